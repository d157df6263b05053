// Secrets (API keys, tokens, passwords) reach the harness through the environment and through suite files. They
// must never be written to a result, a raw samples file, a log line or a report. One policy, used everywhere:
//  - a variable is secret when its NAME looks like one (…KEY, …TOKEN, …SECRET, PASSWORD, CREDENTIAL, AUTH, COOKIE)
//    or its VALUE looks like a known credential format (sk-…, hf_…, ghp_…, AKIA…, xoxb-…, glpat-…, a JWT);
//  - text the harness writes is scrubbed of every secret value it knows of (a workload that prints its own
//    OPENAI_API_KEY in a traceback must not put it into the result's stderr tail).
// Values shorter than MIN_SECRET_CHARS are not scrubbed: replacing "1" or "true" everywhere would wreck the output.

export const REDACTED = '[redacted]';
export const MIN_SECRET_CHARS = 8;

const SECRET_NAME = /KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|AUTH|COOKIE|SESSION/i;
// names that match the pattern but hold a plain path or id, never a credential
const NOT_SECRET_NAME = /^(PWD|OLDPWD|SSH_AUTH_SOCK|XDG_SESSION_(ID|TYPE|CLASS|DESKTOP)|DBUS_SESSION_BUS_ADDRESS|KEYTIMEOUT)$/;
const SECRET_VALUE = /^(sk-|sk_|rk_|pk_live_|hf_|ghp_|gho_|ghs_|ghu_|github_pat_|glpat-|xox[abpr]-|AKIA|ASIA|AIza|eyJ[A-Za-z0-9_-]{8,}\.)[A-Za-z0-9_\-.]{8,}/;

export function looksSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name);
}

// a URL that carries a user and password (postgres://admin:pw@db/x): the whole value is a credential
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i;

export function looksSecretValue(value: string): boolean {
  return SECRET_VALUE.test(value.trim()) || URL_WITH_PASSWORD.test(value.trim());
}

export function isSecret(name: string, value: string | undefined): boolean {
  return value !== undefined && value.length >= MIN_SECRET_CHARS && (looksSecretName(name) || looksSecretValue(value));
}

/** The values of the secret variables in an environment, longest first (so a value inside another is not half-replaced). */
export function secretValues(env: Record<string, string | undefined>): string[] {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(env)) if (v !== undefined && isSecret(k, v)) out.add(v);
  return [...out].sort((a, b) => b.length - a.length);
}

/** A function that replaces every known secret value in a text with [redacted]. */
export function makeRedactor(env: Record<string, string | undefined>): (text: string) => string {
  const secrets = secretValues(env);
  if (!secrets.length) return (t) => t;
  return (t) => {
    if (typeof t !== 'string') return t;
    let s = t;
    for (const v of secrets) if (s.includes(v)) s = s.split(v).join(REDACTED);
    return s;
  };
}

/** Apply a redactor to every string (keys included) of a JSON-like value; returns a new value, the input is untouched. */
export function redactDeep<T>(value: T, redact: (s: string) => string): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redact(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) o[redact(k)] = walk(x);
      return o;
    }
    return v;
  };
  return walk(value) as T;
}

/** An environment map as it may be recorded: every name kept, secret values replaced. */
export function recordableEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, looksSecretName(k) || looksSecretValue(v) ? REDACTED : v]));
}
