// The console's page and styles go next to its compiled modules in dist/console (served at /ops/).
const fs = require('node:fs');
const path = require('node:path');

const from = path.join(__dirname, 'public');
const to = path.join(__dirname, '..', 'dist', 'console');
fs.mkdirSync(to, { recursive: true });
for (const file of fs.readdirSync(from)) fs.copyFileSync(path.join(from, file), path.join(to, file));
