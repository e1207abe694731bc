import { unprocessable } from '../domain/errors.js';
import type { AppManifest, Installation, OptionValues } from '../domain/types.js';

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

const TYPE_CHECK: Record<string, (v: unknown) => boolean> = {
  text: (v) => typeof v === 'string',
  secret: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  boolean: (v) => typeof v === 'boolean',
  object: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
};

/**
 * Checks option values against the manifest (known component, declared key, right type) and says
 * whether every required option is set: an installation is `enabled` only then.
 */
export function checkOptionValues(m: AppManifest, values: OptionValues[]): { enabled: boolean; missing: string[] } {
  values.forEach((cv, i) => {
    const c = m.components.find((x) => x.id === cv.component_id);
    if (!c) throw unprocessable(`option_values[${i}].component_id "${cv.component_id}" is not a component of this app`);
    cv.options.forEach((o, j) => {
      const decl = c.options?.find((d) => d.key === o.key);
      if (!decl) throw unprocessable(`option_values[${i}].options[${j}].key "${o.key}" is not an option of ${c.id}`);
      if (o.value !== null && !TYPE_CHECK[decl.type]?.(o.value)) {
        throw unprocessable(`option_values[${i}].options[${j}].value must be of type ${decl.type} (option ${o.key})`);
      }
    });
  });
  const missing: string[] = [];
  for (const c of m.components) {
    for (const o of c.options ?? []) {
      if (!o.required) continue;
      const v = values.find((x) => x.component_id === c.id)?.options.find((x) => x.key === o.key)?.value;
      if (v === undefined || v === null || v === '') missing.push(`${c.id}.${o.key}`);
    }
  }
  return { enabled: missing.length === 0, missing };
}

/** An installation as read APIs show it: secret option values are never returned. */
export function presentInstallation(inst: Installation, m: AppManifest | undefined) {
  const secret = (componentId: string, key: string) =>
    m?.components.find((c) => c.id === componentId)?.options?.find((o) => o.key === key)?.type === 'secret';
  return {
    app_id: inst.app_id,
    name: m?.name,
    installed_version: inst.version,
    enabled: inst.enabled,
    has_signing_secret: inst.signing_secret !== null,
    missing_options: m ? checkOptionValues(m, inst.option_values).missing : [],
    option_values: inst.option_values.map((cv) => ({
      component_id: cv.component_id,
      options: cv.options.map((o) => ({
        key: o.key,
        value: secret(cv.component_id, o.key) && o.value ? '********' : o.value,
      })),
    })),
    created_at: inst.created_at,
    updated_at: inst.updated_at,
  };
}
