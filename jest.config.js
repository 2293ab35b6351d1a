/** Tests run on real PostgreSQL when TEST_DATABASE_URL is set, else on the embedded one. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest'] },
  // jose and cel-js ship ESM only; let swc turn them into CommonJS for jest.
  // pg-boss (with serialize-error and non-error) too.
  transformIgnorePatterns: ['/node_modules/(?!(jose|@marcbachmann/cel-js|pg-boss|serialize-error|non-error)/)'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30000,
  maxWorkers: 2,
};
