/** The part of fs-native-extensions we use: open-file-description locks (fcntl F_OFD_SETLK on Linux, flock on macOS). */
declare module 'fs-native-extensions' {
  /** Takes an exclusive (or, with `shared`, a shared) lock on the whole file; false when another holder has it. */
  export function tryLock(fd: number, opts?: { shared?: boolean }): boolean;
  export function unlock(fd: number): void;
}
