/**
 * Request bodies of epilot's App API (`@epilot/sdk` app definition, 2.0.0) as ActionBridge accepts
 * them. What epilot documents and ActionBridge cannot honour is refused with a 400 naming the field
 * (unknown properties included), never accepted and ignored.
 */

/** `{de, en?}`; other languages may be added as strings. */
export const translatedString = {
  type: 'object',
  required: ['de'],
  properties: {
    de: { type: 'string', maxLength: 2000 },
    en: { type: ['string', 'null'], maxLength: 2000 },
  },
  additionalProperties: { type: 'string', maxLength: 2000 },
} as const;

/** epilot's `ComponentType`. ActionBridge runs `CUSTOM_FLOW_ACTION`; the others are kept as configuration. */
export const COMPONENT_TYPES = [
  'CUSTOM_JOURNEY_BLOCK',
  'CUSTOM_PORTAL_BLOCK',
  'PORTAL_EXTENSION',
  'CUSTOM_FLOW_ACTION',
  'ERP_INFORM_TOOLKIT',
  'CUSTOM_CAPABILITY',
  'EXTERNAL_PRODUCT_CATALOG',
  'CUSTOM_PAGE',
  'API_PROXY',
  'EXTERNAL_VALUES',
  'APP_FUNCTION',
] as const;

/** A version string: "0.0.1", or the plain numbers of versions created with `POST /v1/apps`. */
export const VERSION = /^\d{1,4}(\.\d{1,4}){0,2}$/;
const versionString = { type: 'string', pattern: VERSION.source, maxLength: 10 } as const;

/** One permission of an app (epilot's `Grant`): the one schema for it, also used by `POST /v1/apps`. */
export const grant = {
  type: 'object',
  required: ['action'],
  additionalProperties: false,
  properties: {
    action: { type: 'string', enum: ['entity:view', 'entity:create', 'entity:edit', 'entity:delete', 'entity:*'] },
    resource: { type: 'string', minLength: 1, maxLength: 200 },
    effect: { type: 'string', enum: ['allow', 'deny'] },
  },
} as const;

const option = {
  type: 'object',
  required: ['key', 'type'],
  additionalProperties: false,
  properties: {
    key: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
    type: { type: 'string', enum: ['text', 'number', 'boolean', 'secret', 'object'] },
    required: { type: 'boolean' },
    label: { type: 'string', maxLength: 200 },
    description: { type: 'string', maxLength: 2000 },
  },
} as const;

/** A component (`BaseComponent`): its `configuration` is checked by type in the service. */
export const componentSchema = {
  type: 'object',
  required: ['id', 'component_type', 'configuration'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' },
    component_type: { type: 'string', enum: COMPONENT_TYPES },
    name: translatedString,
    description: translatedString,
    options: { type: 'array', maxItems: 100, items: option },
    uses_options: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 64 } },
    surfaces: { type: 'object' },
    configuration: { type: 'object' },
  },
} as const;

/** A `PATCH` of a component: the same fields, none required (merged over the stored component). */
export const componentPatchSchema = { ...componentSchema, required: [] } as const;

/** `configuration` of a `CUSTOM_FLOW_ACTION` (`ExternalIntegrationCustomActionConfig`). */
export const flowActionConfigurationSchema = {
  type: 'object',
  required: ['type', 'external_integration_settings'],
  additionalProperties: false,
  properties: {
    type: { type: 'string', enum: ['external_integration'] },
    name: { type: 'string', maxLength: 200 },
    description: { type: 'string', maxLength: 2000 },
    wait_for_callback: { type: 'boolean' },
    external_integration_settings: {
      type: 'object',
      required: ['url'],
      additionalProperties: false,
      properties: {
        url: { type: 'string', minLength: 1, maxLength: 2048 },
        headers: { type: 'object', additionalProperties: { type: 'string', maxLength: 8192 }, maxProperties: 50 },
        /** ActionBridge: retry delays in seconds (its length is the number of attempts). */
        retry_schedule: {
          type: 'array',
          minItems: 1,
          maxItems: 50,
          items: { type: 'number', minimum: 0, maximum: 86400 },
        },
        /** ActionBridge: per-attempt timeout in seconds. */
        timeout_seconds: { type: 'number', exclusiveMinimum: 0, maximum: 300 },
      },
    },
  },
} as const;

const metadataProperties = {
  name: { type: 'string', minLength: 1, maxLength: 200 },
  description: translatedString,
  category: { type: 'string', maxLength: 200 },
  documentation_url: { type: 'string', maxLength: 2048 },
  support_email: { type: 'string', maxLength: 320 },
  notifications: { type: 'object' },
  pricing: {
    type: 'object',
    additionalProperties: false,
    properties: {
      pricing_type: { type: 'string', enum: ['FREE', 'SUBSCRIPTION', 'USAGE_BASED', 'ONE_TIME', 'CUSTOM', 'UNKNOWN'] },
      billing_frequency: { type: 'string', maxLength: 50 },
    },
  },
  dev_mode: { type: 'boolean' },
} as const;

/** `CreateConfigRequest` (without `logo_url_key`: logo uploads are not implemented). */
export const createConfigurationSchema = {
  type: 'object',
  required: ['name', 'description'],
  additionalProperties: false,
  properties: {
    name: metadataProperties.name,
    description: metadataProperties.description,
    category: metadataProperties.category,
  },
} as const;

/** `PatchConfigMetadataRequest` (without `logo_url_key`). */
export const patchMetadataSchema = {
  type: 'object',
  additionalProperties: false,
  properties: metadataProperties,
} as const;

/** `PatchVersionRequest`: the version's grants (the app's permissions), role name, changelog, blueprint. */
export const patchVersionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    grants: { type: 'array', maxItems: 200, items: grant },
    role_id: { type: ['string', 'null'], maxLength: 200 },
    changelog: { type: 'string', maxLength: 250 },
    manifest_id: { type: 'string', maxLength: 200 },
    // Declared so that a sent value gets a clear answer (the service refuses non-empty ones: not supported).
    options: { type: 'array' },
    functions: { type: 'array' },
  },
} as const;

/** `CreateReviewRequest`. */
export const createReviewSchema = {
  type: 'object',
  required: ['technical_contact', 'marketing_contact'],
  additionalProperties: false,
  properties: {
    technical_contact: { type: 'string', minLength: 3, maxLength: 320 },
    marketing_contact: { type: 'string', minLength: 3, maxLength: 320 },
    demo_url: { type: 'string', maxLength: 2048 },
  },
} as const;

export const pageQuery = {
  type: 'object',
  properties: {
    page: { type: 'integer', minimum: 1, maximum: 100_000, default: 1 },
    pageSize: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
  },
} as const;

export const versionQuery = {
  type: 'object',
  properties: { version: versionString },
} as const;

export const versionParam = versionString;

/** `option_values`: `[{component_id, options: [{key, value}]}]` (`OptionsRef`). */
const optionValues = {
  type: 'array',
  maxItems: 100,
  items: {
    type: 'object',
    required: ['component_id', 'options'],
    additionalProperties: false,
    properties: {
      component_id: { type: 'string', minLength: 1 },
      options: {
        type: 'array',
        maxItems: 100,
        items: {
          type: 'object',
          required: ['key', 'value'],
          additionalProperties: false,
          properties: { key: { type: 'string', minLength: 1 }, value: {} },
        },
      },
    },
  },
} as const;

/**
 * `InstallRequest` (install, patchInstallation): `version` is epilot's version string. ActionBridge
 * adds `signing_secret` (a `whsec_` secret, `null` to remove it). `_manifest` (blueprints) is not
 * supported.
 */
export const installSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    version: versionString,
    option_values: optionValues,
    signing_secret: { type: ['string', 'null'], pattern: '^whsec_[A-Za-z0-9+/]+=*$', maxLength: 200 },
  },
} as const;

/** `listInstallations`' query. */
export const installationsQuery = {
  type: 'object',
  properties: {
    ...pageQuery.properties,
    enabled: { type: 'boolean' },
    componentType: { type: 'string', enum: COMPONENT_TYPES },
  },
} as const;
