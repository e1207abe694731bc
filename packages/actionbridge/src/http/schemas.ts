/** JSON schemas of request bodies: Fastify validates with them and names the failing field in the 400. */

import { grant } from '../apps/schemas.js';
import { OPERATIONS } from '../executions/triggers.js';

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

/** A trigger's `filter_config`: the patterns inside are checked in code (`executions/conditions.ts`). */
const filterConfig = {
  type: 'object',
  additionalProperties: false,
  properties: {
    operation: {
      type: 'object',
      additionalProperties: false,
      properties: { operation: { type: 'array' }, payload: { type: 'object' }, diff: { type: 'object' } },
    },
    activity: { type: 'object', additionalProperties: false, properties: { type: { type: 'array' } } },
  },
} as const;

const id = { type: 'string', minLength: 1, maxLength: 128 } as const;

const trigger = {
  type: 'object',
  required: ['type'],
  additionalProperties: false,
  properties: {
    id,
    type: { type: 'string', enum: ['entity_operation', 'entity_manual'] },
    configuration: {
      type: 'object',
      additionalProperties: false,
      properties: {
        schema: { type: 'string', minLength: 1 },
        operations: {
          type: 'array',
          items: { type: 'string', enum: OPERATIONS },
        },
        attributes: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', minLength: 1 } },
        filter_config: filterConfig,
      },
    },
  },
} as const;

/** epilot's `TriggerCondition`; `value` is checked against the comparison in code. */
const triggerCondition = {
  type: 'object',
  required: ['source', 'comparison'],
  additionalProperties: false,
  properties: {
    source: { type: 'string', minLength: 1, maxLength: 500 },
    comparison: { type: 'string', enum: ['equals', 'any_of', 'not_empty', 'is_empty'] },
    value: {},
  },
} as const;

/** The statement operations ActionBridge evaluates (`entity_exists`, `entity_does_not_exist` look up relations: not supported). */
export const STATEMENT_OPERATIONS = [
  'equals',
  'not_equals',
  'any_of',
  'none_of',
  'contains',
  'not_contains',
  'starts_with',
  'ends_with',
  'greater_than',
  'less_than',
  'greater_than_or_equals',
  'less_than_or_equals',
  'is_empty',
  'is_not_empty',
] as const;

const statement = {
  type: 'object',
  required: ['source', 'operation'],
  additionalProperties: false,
  properties: {
    id,
    source: {
      type: 'object',
      required: ['attribute'],
      additionalProperties: false,
      properties: {
        id,
        origin: { type: 'string', enum: ['trigger', 'action'] },
        originType: { type: 'string', enum: ['entity'] },
        schema: { type: 'string', minLength: 1 },
        attribute: { type: 'string', minLength: 1, maxLength: 500 },
        attributeType: {
          type: 'string',
          enum: [
            'string',
            'text',
            'number',
            'boolean',
            'date',
            'datetime',
            'tags',
            'country',
            'email',
            'phone',
            'product',
            'price',
            'status',
            'relation',
            'multiselect',
            'select',
            'radio',
            'relation_user',
            'purpose',
            'label',
            'payment',
            'relation_payment_method',
          ],
        },
        attributeRepeatable: { type: 'boolean' },
        repeatableItemOp: { type: 'boolean' },
        attributeOperation: { type: 'string', enum: ['all'] },
      },
    },
    operation: { type: 'string', enum: STATEMENT_OPERATIONS },
    values: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 1024 } },
  },
} as const;

/** epilot's `ActionCondition`, without a schedule of its own (`schedule_id` on a condition is refused). */
const condition = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id, statements: { type: 'array', maxItems: 50, items: statement } },
} as const;

/** epilot's `ActionSchedule`: when the actions naming it are sent. */
const schedule = {
  type: 'object',
  required: ['id', 'source', 'numberOfUnits', 'timePeriod', 'timeRelation'],
  additionalProperties: false,
  properties: {
    id,
    numberOfUnits: { type: 'number', minimum: 0, maximum: 100000 },
    timePeriod: { type: 'string', enum: ['minutes', 'hours', 'days', 'weeks', 'months'] },
    timeRelation: { type: 'string', enum: ['after', 'before'] },
    source: {
      type: 'object',
      required: ['id', 'origin'],
      additionalProperties: false,
      properties: {
        id: { type: 'string', maxLength: 128 },
        origin: { type: 'string', enum: ['trigger', 'action', 'automation'] },
        schema: { type: 'string', minLength: 1 },
        attribute: { type: 'string', minLength: 1, maxLength: 500 },
      },
    },
  },
} as const;

const action = {
  type: 'object',
  required: ['type', 'config'],
  additionalProperties: false,
  properties: {
    id,
    name: { type: 'string' },
    type: { type: 'string', enum: ['custom-action'] },
    allow_failure: { type: 'boolean' },
    condition_id: id,
    schedule_id: id,
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

/**
 * epilot's `AutomationFlow`, the parts ActionBridge runs. Any other field is refused with a 400
 * naming it, except the read-only ones a client sends back from a read (the server owns those).
 */
export const flowSchema = {
  type: 'object',
  required: ['flow_name', 'triggers', 'actions'],
  additionalProperties: false,
  properties: {
    flow_name: { type: 'string', minLength: 1, maxLength: 200 },
    enabled: { type: 'boolean' },
    entity_schema: { type: 'string', minLength: 1 },
    triggers: { type: 'array', minItems: 1, maxItems: 20, items: trigger },
    trigger_conditions: { type: 'array', maxItems: 50, items: triggerCondition },
    conditions: { type: 'array', maxItems: 50, items: condition },
    schedules: { type: 'array', maxItems: 50, items: schedule },
    max_executions: {
      type: 'object',
      additionalProperties: false,
      properties: {
        count: { type: 'integer', minimum: 1 },
        window: { type: 'string', pattern: '^P(\\d+D)?(T(\\d+H)?(\\d+M)?(\\d+(\\.\\d+)?S)?)?$' },
      },
    },
    actions: { type: 'array', maxItems: 50, items: action },
    // Read-only (epilot's definition marks them so): accepted back from a read, never taken.
    id: {},
    org_id: {},
    version: {},
    created_at: {},
    updated_at: {},
    created_by: {},
    last_updated_by: {},
    runs: {},
    disable_details: {},
  },
} as const;

export const pagingQuery = {
  size: { type: 'integer', minimum: 0, maximum: 1000, default: 25 },
  from: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
} as const;
