import { unprocessable } from '../domain/errors.js';
import type { AppManifest } from '../domain/types.js';

/** Checks what the JSON schema cannot: unique ids, custom action settings, URLs. 422 names the field. */
export function checkManifest(m: AppManifest): void {
  const seen = new Set<string>();
  m.components.forEach((c, i) => {
    const at = `components[${i}]`;
    if (seen.has(c.id)) throw unprocessable(`${at}.id "${c.id}" is used by two components`);
    seen.add(c.id);
    const keys = new Set<string>();
    (c.options ?? []).forEach((o, j) => {
      if (keys.has(o.key)) throw unprocessable(`${at}.options[${j}].key "${o.key}" is declared twice`);
      keys.add(o.key);
    });
    if (c.component_type !== 'CUSTOM_FLOW_ACTION') return;
    if (c.configuration.type !== 'external_integration') {
      throw unprocessable(`${at}.configuration.type must be "external_integration" for a CUSTOM_FLOW_ACTION`);
    }
    const url = c.configuration.external_integration_settings?.url;
    if (!url) throw unprocessable(`${at}.configuration.external_integration_settings.url is required`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw unprocessable(`${at}.configuration.external_integration_settings.url is not a URL: "${url}"`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw unprocessable(
        `${at}.configuration.external_integration_settings.url must be http(s), got ${parsed.protocol}`,
      );
    }
    if (parsed.username || parsed.password) {
      throw unprocessable(`${at}.configuration.external_integration_settings.url must not carry credentials`);
    }
  });
}
