import { inspect } from 'node:util';

const MASK = '[redacted]';

/**
 * Wraps a sensitive value so that logging, JSON serialisation or string interpolation prints a mask.
 * Reading it is an explicit `reveal()` call, easy to find in review.
 */
export class Secret<T> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  reveal(): T {
    return this.#value;
  }

  toJSON(): string {
    return MASK;
  }

  toString(): string {
    return MASK;
  }

  [inspect.custom](): string {
    return MASK;
  }
}
