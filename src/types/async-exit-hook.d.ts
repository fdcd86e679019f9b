// The part of async-exit-hook (CommonJS, no types of its own) that src/db/embedded.ts uses.
declare module 'async-exit-hook' {
  interface ExitHook {
    (hook: (done: () => void) => void): void;
    /** Stops handling a signal or event it hooked. */
    unhookEvent(event: string): void;
    /** The signals and events it handles. */
    hookedEvents(): string[];
  }
  const exitHook: ExitHook;
  export default exitHook;
}
