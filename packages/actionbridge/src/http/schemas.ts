/** JSON schemas of request bodies: Fastify validates with them and names the failing field in the 400. */

const grant = {
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
  properties: {
    key: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
    type: { type: 'string', enum: ['text', 'number', 'boolean', 'secret', 'object'] },
    required: { type: 'boolean' },
    label: { type: 'string' },
    description: { type: 'string' },
  },
} as const;

const component = {
  type: 'object',
  required: ['id', 'component_type', 'configuration'],
  properties: {
    id: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' },
    component_type: { type: 'string', minLength: 1 },
    name: { type: 'string' },
    description: { type: 'string' },
    options: { type: 'array', maxItems: 100, items: option },
    configuration: {
      type: 'object',
      properties: {
        type: { type: 'string' },
        external_integration_settings: {
          type: 'object',
          required: ['url'],
          properties: {
            url: { type: 'string', minLength: 1, maxLength: 2048 },
            headers: { type: 'object', additionalProperties: { type: 'string' }, maxProperties: 50 },
            retry_schedule: {
              type: 'array',
              minItems: 1,
              maxItems: 50,
              items: { type: 'number', minimum: 0, maximum: 86400 },
            },
            timeout_seconds: { type: 'number', exclusiveMinimum: 0, maximum: 300 },
          },
        },
      },
    },
  },
} as const;

export const manifestSchema = {
  type: 'object',
  required: ['name', 'components'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    description: { type: 'string' },
    permissions: { type: 'array', maxItems: 200, items: grant },
    components: { type: 'array', minItems: 1, maxItems: 100, items: component },
  },
} as const;

const trigger = {
  type: 'object',
  required: ['type'],
  properties: {
    id: { type: 'string' },
    type: { type: 'string', enum: ['entity_operation', 'entity_manual'] },
    configuration: {
      type: 'object',
      properties: {
        schema: { type: 'string', minLength: 1 },
        operations: {
          type: 'array',
          items: { type: 'string', enum: ['createEntity', 'updateEntity', 'deleteEntity'] },
        },
        attributes: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', minLength: 1 } },
      },
    },
  },
} as const;

const action = {
  type: 'object',
  required: ['type', 'config'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 128 },
    name: { type: 'string' },
    type: { type: 'string', enum: ['custom-action'] },
    allow_failure: { type: 'boolean' },
    config: {
      type: 'object',
      required: ['app_id', 'component_id'],
      properties: {
        name: { type: 'string' },
        description: { type: 'string' },
        app_id: { type: 'string', minLength: 1 },
        component_id: { type: 'string', minLength: 1 },
        wait_for_callback: { type: 'boolean' },
      },
    },
  },
} as const;

export const flowSchema = {
  type: 'object',
  required: ['flow_name', 'triggers', 'actions'],
  properties: {
    flow_name: { type: 'string', minLength: 1, maxLength: 200 },
    enabled: { type: 'boolean' },
    entity_schema: { type: 'string', minLength: 1 },
    triggers: { type: 'array', minItems: 1, maxItems: 20, items: trigger },
    max_executions: {
      type: 'object',
      properties: {
        count: { type: 'integer', minimum: 1 },
        window: { type: 'string', pattern: '^P(\\d+D)?(T(\\d+H)?(\\d+M)?(\\d+(\\.\\d+)?S)?)?$' },
      },
    },
    actions: { type: 'array', maxItems: 50, items: action },
  },
} as const;

export const pagingQuery = {
  size: { type: 'integer', minimum: 0, maximum: 1000, default: 25 },
  from: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
} as const;
