/**
 * `{{NAME}}` placeholders, so the configuration files under deploy/ stay readable as what they are
 * (nginx's own `$var` and `${var}` syntax is left alone). Unknown placeholders are an error rather than
 * silently empty, so a typo in a template fails at `up` with its name.
 */
export function renderTemplate(template: string, vars: Readonly<Record<string, string | number>>): string {
  const missing = new Set<string>();
  const out = template.replace(/\{\{\s*([A-Z][A-Z0-9_]*)\s*\}\}/g, (_match, name: string) => {
    const value = vars[name];
    if (value === undefined) {
      missing.add(name);
      return '';
    }
    return String(value);
  });
  if (missing.size > 0) {
    throw new Error(
      `unknown placeholder(s) ${[...missing].map((m) => `{{${m}}}`).join(', ')}; known: ${Object.keys(vars).join(', ')}`,
    );
  }
  return out;
}

/** `key=value` lines (Kafka's server.properties). */
export function renderProperties(props: Readonly<Record<string, string | number | boolean>>): string {
  return `${Object.entries(props)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n')}\n`;
}
