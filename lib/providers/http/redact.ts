/**
 * Secrets never leave this layer: every URL and every piece of response text that may end up
 * in an error message or a log passes through here first.
 */

const SECRET_QUERY_PARAMS = ['api_key', 'apikey', 'key', 'token', 'access_token'];

/** The URL with secret query parameters replaced by `REDACTED` (and any userinfo dropped). */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '<unparseable url>';
  }
  parsed.username = '';
  parsed.password = '';
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_QUERY_PARAMS.includes(name.toLowerCase())) parsed.searchParams.set(name, 'REDACTED');
  }
  return parsed.toString();
}

/**
 * Removes `secrets` (the API key, verbatim) and bearer tokens from free text such as a
 * response body a server may have echoed back, and bounds its length.
 */
export function redactText(text: string, secrets: readonly string[], maxLength = 300): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('REDACTED');
  }
  out = out.replace(/(bearer\s+)[^\s"',}]+/gi, '$1REDACTED').replace(/(api_key=)[^&\s"']+/gi, '$1REDACTED');
  return out.length > maxLength ? `${out.slice(0, maxLength)}…` : out;
}
