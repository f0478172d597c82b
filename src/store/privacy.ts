/**
 * The browser's privacy signals. Global Privacy Control: https://privacycg.github.io/gpc-spec/
 * (`navigator.globalPrivacyControl`); Do Not Track: `navigator.doNotTrack` "1" (older Safari and
 * IE spell it `window.doNotTrack` / `navigator.msDoNotTrack`, "yes" in old Firefox).
 */

/** Whether the visitor sent a signal the site honours: then nothing is stored, whatever `consent()` says. */
export function privacySignal(
  respectGpc: boolean,
  respectDoNotTrack: boolean,
  nav: unknown = globalThis.navigator,
  win: unknown = globalThis,
): boolean {
  const n = (nav ?? {}) as { globalPrivacyControl?: unknown; doNotTrack?: unknown; msDoNotTrack?: unknown };
  return (
    (respectGpc && n.globalPrivacyControl === true) ||
    (respectDoNotTrack &&
      ['1', 'yes', 1].includes((n.doNotTrack ?? (win as { doNotTrack?: unknown } | undefined)?.doNotTrack ?? n.msDoNotTrack) as string))
  );
}
