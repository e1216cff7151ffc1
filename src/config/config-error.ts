/** A setting is missing or malformed. The message names every bad variable, never a value. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly { variable: string; message: string }[]) {
    super(`exosend settings are invalid: ${problems.map((p) => `${p.variable} ${p.message}`).join('; ')}`);
  }
}
