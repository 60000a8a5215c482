/**
 * Ctrl-C handling for long-running commands: the first SIGINT/SIGTERM asks for a graceful
 * stop, a second one asks to hurry (abort in-flight work). Returns a disposer.
 */
export function onStopSignals(handlers: {
  graceful: (signal: NodeJS.Signals) => void;
  hurry: () => void;
}): () => void {
  let count = 0;
  const listener = (signal: NodeJS.Signals): void => {
    count += 1;
    if (count === 1) handlers.graceful(signal);
    else handlers.hurry();
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
  };
}

/** Resolves with the first stop signal. */
export function firstStopSignal(): { signal: Promise<NodeJS.Signals>; dispose: () => void } {
  let dispose = (): void => {};
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    dispose = onStopSignals({ graceful: resolve, hurry: () => {} });
  });
  return { signal, dispose };
}
