/**
 * Types of the custom action request body (SPEC §1). The platform sends every field listed here;
 * `resume_token` and `callback_url` only when the flow action waits for a callback.
 */

/** The entity snapshot the flow runs for, with its system fields and any attributes of its schema. */
export interface EntitySnapshot {
  /** Entity id; use it to write back. */
  _id: string;
  /** Schema slug, e.g. `opportunity`, `contact`, `contract`. */
  _schema: string;
  /** The org the entity belongs to (the installer org). */
  _org: string;
  /** Display title. */
  _title?: string | null;
  /** Tags. */
  _tags?: string[] | null;
  /** ISO 8601 creation time. */
  _created_at?: string;
  /** ISO 8601 time of the last update; send it back on PATCH for optimistic concurrency. */
  _updated_at?: string;
  /** Schema attributes. */
  [attribute: string]: unknown;
}

/** Execution statuses (epilot's `ExecutionStatus`). */
export type ExecutionStatus =
  | 'pending'
  | 'starting'
  | 'in_progress'
  | 'paused'
  | 'success'
  | 'failed'
  | 'cancelled'
  | 'skipped'
  | 'scheduled'
  | 'hot';

/**
 * What happened to the entity: `<schema>.<created|updated|deleted|restored|manual>`, e.g.
 * `opportunity.updated`; `deleted` for a soft delete (to the trash) and a purge alike.
 */
export type TriggerEvent = `${string}.${'created' | 'updated' | 'deleted' | 'restored' | 'manual'}`;

/** The attribute changes of an entity operation. */
export interface EntityDiff {
  /** Attributes that were added, with their values. */
  added: Record<string, unknown>;
  /** Attributes that changed, with their new values. */
  updated: Record<string, unknown>;
  /** Attributes that were removed, with their old values. */
  deleted: Record<string, unknown>;
}

/**
 * The entity operations a flow can be triggered by (epilot's `EntityOperation`): `softDeleteEntity`
 * moves an entity to the trash, `restoreEntity` takes it out again, `deleteEntity` deletes it for
 * good (a purge).
 */
export type EntityOperation = 'createEntity' | 'updateEntity' | 'deleteEntity' | 'softDeleteEntity' | 'restoreEntity';

/** What started the execution. */
export interface CustomActionTrigger {
  /** `entity_operation` (an entity was created, updated or deleted) or `manual` (started by hand). */
  type: 'entity_operation' | 'manual';
  /** The operation, for `entity_operation` triggers. */
  operation?: EntityOperation;
  /** The entity the execution runs for. */
  entity_id: string;
  /** The attribute changes, for `entity_operation` triggers that carry them. */
  diff?: EntityDiff;
}

/** `data` of a custom action request. */
export interface CustomActionData<
  TAppOptions extends object = Record<string, unknown>,
  TEntity extends EntitySnapshot = EntitySnapshot,
  TActionConfig extends object = Record<string, unknown>,
> {
  /** The installer org. */
  org_id: string;
  /** The entity snapshot the flow runs for. */
  entity: TEntity;
  /** The flow action's configuration. */
  action_config: TActionConfig;
  /** The component's configuration from the app manifest. */
  app_config: Record<string, unknown>;
  /** The installation's option values for this component, `key → value` (secret options decrypted). */
  app_options: TAppOptions;
  /** The execution id. */
  execution_id: string;
  /** The execution's status when the action was sent (normally `in_progress`). */
  execution_status: ExecutionStatus;
  /**
   * The action's id within the execution, spelled as epilot documents it.
   * @deprecated Same value as {@link CustomActionData.execution_action_id}; kept for compatibility.
   */
  exection_action_id: string;
  /** The action's id within the execution. */
  execution_action_id: string;
  /** `<schema>.<created|updated|deleted|manual>`. */
  trigger_event: TriggerEvent;
  /** Detail of what started the execution. */
  trigger: CustomActionTrigger;
  /** Single-use token for the callback; only when the action waits for a callback. */
  resume_token?: string;
  /** Where to report the result (see `reportResult`); only when the action waits for a callback. */
  callback_url?: string;
}

/**
 * The body of a custom action request (SPEC §1).
 *
 * The type parameters narrow `app_options`, `entity` and `action_config` for your app; they are
 * not checked at run time.
 */
export interface CustomActionPayload<
  TAppOptions extends object = Record<string, unknown>,
  TEntity extends EntitySnapshot = EntitySnapshot,
  TActionConfig extends object = Record<string, unknown>,
> {
  type: 'external_integration';
  /** ISO 8601 time of the triggering event (not of this attempt). */
  timestamp: string;
  data: CustomActionData<TAppOptions, TEntity, TActionConfig>;
}

/** Any custom action payload, whatever its type parameters: the bound of the SDK's generic functions. */
export type AnyCustomActionPayload = CustomActionPayload<object, EntitySnapshot, object>;

/** A payload whose action waits for a callback: `resume_token` and `callback_url` are set. */
export type CallbackPayload<
  TAppOptions extends object = Record<string, unknown>,
  TEntity extends EntitySnapshot = EntitySnapshot,
  TActionConfig extends object = Record<string, unknown>,
> = CustomActionPayload<TAppOptions, TEntity, TActionConfig> & {
  data: { resume_token: string; callback_url: string };
};

/** True when the action waits for a callback (`resume_token` and `callback_url` are present). */
export function expectsCallback<P extends AnyCustomActionPayload>(
  payload: P,
): payload is P & { data: { resume_token: string; callback_url: string } } {
  return typeof payload.data?.resume_token === 'string' && typeof payload.data?.callback_url === 'string';
}
