/** Loads rage and dead click detection right after start-up; bundlers split it into its own file. */
export function loadClicks(): Promise<typeof import('./capture/frustration')> {
  return import('./capture/frustration');
}
