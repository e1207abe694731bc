/**
 * The schemas every org has (epilot's `EntitySchema`), with the attributes apps can read: what
 * `getSchema` answers for `opportunity`, `contact` and `contract` until the org puts its own.
 * Attributes describe entities; writes are not validated against them.
 */

const selectOptions = (values: Array<[value: string, title: string]>) =>
  values.map(([value, title]) => ({ value, title }));

const customer = {
  name: 'customer',
  label: 'Customer',
  type: 'relation',
  relation_type: 'has_many',
  allowedSchemas: ['contact'],
};

export const BUILTIN_SCHEMA_DEFINITIONS = {
  opportunity: {
    slug: 'opportunity',
    version: 1,
    name: 'Opportunity',
    plural: 'Opportunities',
    description: 'A potential deal with a customer, from first contact to won or lost',
    icon: 'opportunity',
    published: true,
    capabilities: [],
    attributes: [
      { name: 'title', label: 'Title', type: 'string' },
      { name: 'opportunity_number', label: 'Opportunity number', type: 'string', readonly: true },
      {
        name: 'status',
        label: 'Status',
        type: 'status',
        options: selectOptions([
          ['open', 'Open'],
          ['in_progress', 'In progress'],
          ['won', 'Won'],
          ['lost', 'Lost'],
        ]),
      },
      { name: 'amount', label: 'Amount', type: 'number', data_type: 'number' },
      { name: 'due_date', label: 'Due date', type: 'date' },
      { name: 'source', label: 'Source', type: 'string' },
      { name: 'description', label: 'Description', type: 'string', multiline: true },
      customer,
    ],
  },
  contact: {
    slug: 'contact',
    version: 1,
    name: 'Contact',
    plural: 'Contacts',
    description: 'A person the organization works with',
    icon: 'person',
    published: true,
    capabilities: [],
    attributes: [
      { name: 'salutation', label: 'Salutation', type: 'select', options: ['Mr.', 'Ms. / Mrs.', 'Other'] },
      { name: 'title', label: 'Title', type: 'select', options: ['Dr.', 'Prof.', 'Prof. Dr.'] },
      { name: 'first_name', label: 'First name', type: 'string' },
      { name: 'last_name', label: 'Last name', type: 'string' },
      { name: 'email', label: 'Email', type: 'email', repeatable: true, has_primary: true },
      { name: 'phone', label: 'Phone', type: 'phone', repeatable: true, has_primary: true },
      { name: 'birthdate', label: 'Birthdate', type: 'date' },
      { name: 'address', label: 'Address', type: 'address', repeatable: true, has_primary: true },
      { name: 'customer_number', label: 'Customer number', type: 'string' },
    ],
  },
  contract: {
    slug: 'contract',
    version: 1,
    name: 'Contract',
    plural: 'Contracts',
    description: 'An agreement with a customer: its term, status and billing',
    icon: 'contract',
    published: true,
    capabilities: [],
    attributes: [
      { name: 'contract_name', label: 'Contract name', type: 'string' },
      { name: 'contract_number', label: 'Contract number', type: 'string' },
      {
        name: 'status',
        label: 'Status',
        type: 'select',
        options: selectOptions([
          ['draft', 'Draft'],
          ['in_approval_process', 'In approval process'],
          ['approved', 'Approved'],
          ['active', 'Active'],
          ['deactivated', 'Deactivated'],
          ['revoked', 'Revoked'],
          ['terminated', 'Terminated'],
          ['expired', 'Expired'],
        ]),
      },
      { name: 'start_date', label: 'Start date', type: 'date' },
      { name: 'end_date', label: 'End date', type: 'date' },
      {
        name: 'billing_period',
        label: 'Billing period',
        type: 'select',
        options: selectOptions([
          ['monthly', 'Monthly'],
          ['quarterly', 'Quarterly'],
          ['every_6_months', 'Every 6 months'],
          ['yearly', 'Yearly'],
        ]),
      },
      customer,
      { name: 'description', label: 'Description', type: 'string', multiline: true },
    ],
  },
} as const;

export type BuiltinSchema = keyof typeof BUILTIN_SCHEMA_DEFINITIONS;
/** Schemas every org has, in the order they are listed; any other valid slug works too. */
export const BUILTIN_SCHEMAS = Object.keys(BUILTIN_SCHEMA_DEFINITIONS) as BuiltinSchema[];
