/**
 * The body of epilot's `putSchema` (`EntitySchema`, Entity API 2.8.0) as ActionBridge accepts it:
 * what has a type is checked, attributes have epilot's required `name`, `label` and `type` (one of
 * its attribute types, with the fields some of them require). Schema fields that would change how
 * the server treats entities, and that ActionBridge does not apply, are refused by name in
 * entities/entity-schemas.ts rather than accepted and ignored.
 */

/** epilot's attribute types (the `type` of each `Attribute` variant). */
export const ATTRIBUTE_TYPES = [
  'string',
  'link',
  'date',
  'datetime',
  'country',
  'boolean',
  'select',
  'radio',
  'multiselect',
  'checkbox',
  'status',
  'sequence',
  'relation',
  'relation_user',
  'address',
  'relation_address',
  'relation_payment_method',
  'currency',
  'tags',
  'message_email_address',
  'number',
  'table',
  'consent',
  'internal',
  'ordered_list',
  'image',
  'file',
  'computed',
  'partner_status',
  'invitation_email',
  'automation',
  'internal_user',
  'purpose',
  'partner_organisation',
  'portal_access',
  'phone',
  'email',
  'payment',
  'price_component',
] as const;

const text = (max: number) => ({ type: 'string', maxLength: max }) as const;
const strings = { type: 'array', maxItems: 1000, items: text(1000) } as const;

/** Fields some attribute types require (epilot's `CurrencyAttribute`, `ConsentAttribute`, `ComputedAttribute`). */
const REQUIRED_BY_TYPE: Array<[type: string, field: string, schema: object]> = [
  ['currency', 'currency', { type: 'array', maxItems: 200, items: { type: 'object' } }],
  ['consent', 'topic', text(200)],
  ['computed', 'value_formatter', text(10_000)],
];

/** epilot's `Attribute`: any of its variants, each `{name, label, type, …}`. */
export const attributeSchema = {
  type: 'object',
  required: ['name', 'label', 'type'],
  properties: {
    id: text(200),
    name: { type: 'string', minLength: 1, maxLength: 200 },
    label: text(1000),
    type: { type: 'string', enum: ATTRIBUTE_TYPES },
    placeholder: text(1000),
    group: text(200),
    order: { type: 'integer' },
    hidden: { type: 'boolean' },
    required: { type: 'boolean' },
    readonly: { type: 'boolean' },
    deprecated: { type: 'boolean' },
    repeatable: { type: 'boolean' },
    has_primary: { type: 'boolean' },
    options: { type: 'array', maxItems: 1000 },
    _purpose: strings,
  },
  allOf: REQUIRED_BY_TYPE.map(([type, field, schema]) => ({
    if: { type: 'object', required: ['type'], properties: { type: { const: type } } },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, never awaited
    then: { type: 'object', required: [field], properties: { [field]: schema } },
  })),
} as const;

const capabilitySchema = {
  type: 'object',
  required: ['name'],
  properties: {
    id: text(200),
    name: { type: 'string', minLength: 1, maxLength: 200 },
    title: text(1000),
    attributes: { type: 'array', maxItems: 1000, items: attributeSchema },
    _purpose: strings,
  },
} as const;

/** epilot's `EntitySchema` as the body of `putSchema` (required as epilot requires them). */
export const entitySchemaBody = {
  type: 'object',
  required: ['name', 'plural', 'attributes', 'capabilities'],
  properties: {
    slug: text(64),
    name: { type: 'string', minLength: 1, maxLength: 200 },
    plural: { type: 'string', minLength: 1, maxLength: 200 },
    description: text(10_000),
    docs_url: text(2000),
    category: text(200),
    icon: text(200),
    published: { type: 'boolean' },
    draft: { type: 'boolean' },
    blueprint: text(200),
    comment: text(10_000),
    source: { type: 'object' },
    ui_config: { type: 'object' },
    layout_settings: { type: 'object' },
    dialog_config: { type: 'object' },
    group_settings: { type: 'array', maxItems: 500, items: { type: 'object' } },
    group_headlines: { type: 'array', maxItems: 500, items: { type: 'object' } },
    _purpose: strings,
    attributes: { type: 'array', maxItems: 1000, items: attributeSchema },
    capabilities: { type: 'array', maxItems: 200, items: capabilitySchema },
    // The server's (an EntitySchemaItem read back and sent again): replaced by the server.
    id: text(200),
    version: { type: 'integer' },
    created_at: text(100),
    updated_at: text(100),
    frozen: { type: 'boolean' },
    latest: { type: 'boolean' },
    _summary: { type: 'boolean' },
  },
} as const;
