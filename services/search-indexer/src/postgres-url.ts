/** The connection URL with the configured password (from the environment) in place of the file's. */
export function postgresUrl(url: string, password: string | undefined): string {
  if (!password) return url;
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}
