import type { ErrorObject } from 'ajv';
import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { requireOrgToken } from '../../auth/principal.js';
import { findComponent } from '../../delivery/payload.js';
import { badRequest, notFound, unprocessable } from '../../domain/errors.js';
import type { Execution, Flow, FlowTrigger } from '../../domain/types.js';
import { compilePattern, PatternError } from '../../executions/conditions.js';
import { presentExecution } from '../../executions/state.js';
import {
  activityTypeCanHappen,
  EMITTED_ACTIVITY_TYPES,
  OPERATIONS,
  triggerOperations,
  triggerSchemas,
} from '../../executions/triggers.js';
import type { Store } from '../../store/store.js';
import { newUuid, nowIso } from '../../util/ids.js';
import { acceptBodylessJson } from '../bodies.js';
import { flowSchema, pagingQuery } from '../schemas.js';
import type { Context, Who } from '../server.js';

type FlowBody = Pick<Flow, 'flow_name' | 'triggers' | 'actions'> &
  Partial<
    Pick<Flow, 'enabled' | 'entity_schema' | 'trigger_conditions' | 'conditions' | 'schedules' | 'max_executions'>
  >;

/** `/triggers/0/configuration` → `triggers[0].configuration`. */
function fieldOf(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((at, p) => (/^\d+$/.test(p) ? `${at}[${p}]` : at ? `${at}.${p}` : p), '');
}

/** A flow body's first schema error, naming the field: `triggers[0].configuration.include_activities is not supported`. */
function describeFlowError(errors: FastifySchemaValidationError[]): Error {
  const e = errors[0] as ErrorObject;
  const at = fieldOf(e.instancePath);
  const inside = (name: string) => (at ? `${at}.${name}` : name);
  if (e.keyword === 'additionalProperties') {
    return new Error(`${inside(String(e.params.additionalProperty))} is not supported`);
  }
  if (e.keyword === 'required') return new Error(`${inside(String(e.params.missingProperty))} is required`);
  if (e.keyword === 'enum') {
    return new Error(`${at} must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`);
  }
  return new Error(`${at || 'the body'} ${e.message ?? 'is invalid'}`);
}

const pattern = (p: unknown, at: string) => {
  try {
    return compilePattern(p, at);
  } catch (err) {
    if (err instanceof PatternError) throw badRequest(err.message);
    throw err;
  }
};

/** The plain values of a pattern's field list (matchers are not values). */
const plainValues = (list: unknown): string[] =>
  Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];

/** Checks a trigger's `filter_config`: valid patterns, and only values events on ActionBridge can carry. */
function checkFilter(t: FlowTrigger, at: string): void {
  const f = t.configuration.filter_config;
  if (!f) return;
  const here = `${at}.configuration.filter_config`;
  const op = f.operation ?? {};
  if (op.operation !== undefined) {
    pattern({ operation: op.operation }, `${here}.operation`);
    for (const v of plainValues(op.operation)) {
      if (!(OPERATIONS as readonly string[]).includes(v)) {
        throw badRequest(`${here}.operation.operation: "${v}" is not an operation (${OPERATIONS.join(', ')})`);
      }
    }
  }
  if (op.payload !== undefined) {
    pattern(op.payload, `${here}.operation.payload`);
    const named = plainValues(op.payload._schema);
    const own = t.configuration.schema;
    if (own && named.length && !named.includes(own)) {
      throw badRequest(
        `${here}.operation.payload._schema names ${named.join(', ')}, never ${at}.configuration.schema "${own}": the trigger could never fire`,
      );
    }
  }
  if (op.diff !== undefined) {
    pattern(op.diff, `${here}.operation.diff`);
    const checkParts = (d: Record<string, unknown>, where: string): void => {
      for (const [key, value] of Object.entries(d)) {
        if (key === '$or') {
          for (const [i, alt] of (value as Array<Record<string, unknown>>).entries()) {
            checkParts(alt, `${where}.$or[${i}]`);
          }
        } else if (!['added', 'updated', 'deleted'].includes(key.split('.')[0] as string)) {
          throw badRequest(`${where}.${key}: a diff has only added, updated and deleted`);
        }
      }
    };
    checkParts(op.diff, `${here}.operation.diff`);
  }
  if (f.activity?.type !== undefined) {
    pattern({ type: f.activity.type }, `${here}.activity`);
    for (const v of plainValues(f.activity.type)) {
      if (!activityTypeCanHappen(v)) {
        throw badRequest(
          `${here}.activity.type: "${v}" never happens on ActionBridge (its activities: ${EMITTED_ACTIVITY_TYPES.join(', ')}, and custom types of activities created with createActivity)`,
        );
      }
    }
  }
  if (triggerOperations(t).length === 0) {
    throw badRequest(`${here}.operation.operation has no operation in common with ${at}.configuration.operations`);
  }
}

/** Index of the action named `id` in the flow, or -1. */
const actionIndex = (body: FlowBody, id: string | undefined) => (id ? body.actions.findIndex((a) => a.id === id) : -1);

/** Checks a `source` that names an earlier action: it must exist and come before every action using it. */
function checkActionSource(body: FlowBody, sourceId: string | undefined, at: string, users: number[]): void {
  const index = actionIndex(body, sourceId);
  if (index === -1) throw unprocessable(`${at}.id: "${sourceId ?? ''}" names no action of this flow`);
  const early = users.find((u) => u <= index);
  if (early !== undefined) {
    throw badRequest(`${at}.id: action "${sourceId}" does not run before actions[${early}], which uses it`);
  }
}

/**
 * Checks what the JSON schema cannot: the entity schema of each trigger, filter patterns, trigger
 * condition values, references between actions, conditions and schedules, and that each action
 * names a custom action component of an existing app. Unsupported parts are a 400 naming the field.
 */
async function checkFlow(store: Store, body: FlowBody): Promise<void> {
  const schemas = new Set<string>();
  body.triggers.forEach((t, i) => {
    const at = `triggers[${i}]`;
    const config = t.configuration ?? {};
    if (t.type === 'entity_manual') {
      const extra = Object.keys(config).find((k) => k !== 'schema');
      if (extra) throw badRequest(`${at}.configuration.${extra} is not supported on an entity_manual trigger`);
      if (config.schema) schemas.add(config.schema);
      return;
    }
    const own = triggerSchemas(body, { ...t, configuration: config });
    if (own.length === 0) {
      throw unprocessable(
        `${at}.configuration.schema is required (or set entity_schema on the flow, or name it in filter_config.operation.payload._schema)`,
      );
    }
    for (const s of own) schemas.add(s);
    checkFilter({ ...t, configuration: config }, at);
  });
  if (body.entity_schema) schemas.add(body.entity_schema);

  body.trigger_conditions?.forEach((c, i) => {
    const at = `trigger_conditions[${i}].value`;
    const v = c.value as unknown;
    if (c.comparison === 'is_empty' || c.comparison === 'not_empty') {
      if (v !== undefined) throw badRequest(`${at} is not used by ${c.comparison}: leave it out`);
    } else if (c.comparison === 'equals') {
      if (typeof v !== 'string' && typeof v !== 'number') throw badRequest(`${at} must be a string or a number`);
    } else if (
      !Array.isArray(v) ||
      v.length === 0 ||
      v.length > 200 ||
      !(v.every((x) => typeof x === 'string') || v.every((x) => typeof x === 'number'))
    ) {
      throw badRequest(`${at} must list 1 to 200 strings or numbers`);
    }
  });

  const ids = new Set<string>();
  for (const [i, a] of body.actions.entries()) {
    if (a.id) {
      if (ids.has(a.id)) throw unprocessable(`actions[${i}].id "${a.id}" is used twice`);
      ids.add(a.id);
    }
  }
  const users = (key: 'condition_id' | 'schedule_id', id: string) =>
    body.actions.flatMap((a, i) => (a[key] === id ? [i] : []));

  const conditionIds = new Set<string>();
  body.conditions?.forEach((c, i) => {
    const at = `conditions[${i}]`;
    if (conditionIds.has(c.id)) throw unprocessable(`${at}.id "${c.id}" is used twice`);
    conditionIds.add(c.id);
    c.statements?.forEach((s, j) => {
      const here = `${at}.statements[${j}]`;
      const op = s.operation ?? '';
      const values = s.values ?? [];
      if (op === 'is_empty' || op === 'is_not_empty') {
        if (values.length) throw badRequest(`${here}.values are not used by ${op}: leave them out`);
      } else if (op.includes('than')) {
        if (values.length !== 1) throw badRequest(`${here}.values must hold exactly one value for ${op}`);
      } else if (values.length === 0) throw badRequest(`${here}.values must hold at least one value for ${op}`);
      if (s.source?.origin === 'action')
        checkActionSource(body, s.source.id, `${here}.source`, users('condition_id', c.id));
      else if (s.source?.schema && !schemas.has(s.source.schema)) {
        throw badRequest(
          `${here}.source.schema: "${s.source.schema}" is not the flow's entity (${[...schemas].join(', ')}): conditions on related entities are not supported`,
        );
      }
    });
  });

  const scheduleIds = new Set<string>();
  body.schedules?.forEach((s, i) => {
    const at = `schedules[${i}]`;
    if (scheduleIds.has(s.id)) throw unprocessable(`${at}.id "${s.id}" is used twice`);
    scheduleIds.add(s.id);
    const src = s.source;
    if (s.timePeriod === 'months' && !Number.isInteger(s.numberOfUnits)) {
      throw badRequest(`${at}.numberOfUnits must be a whole number of months`);
    }
    if (src.origin !== 'trigger' && src.attribute) {
      throw badRequest(`${at}.source.attribute is only supported with origin "trigger" (a date of the trigger entity)`);
    }
    if (s.timeRelation === 'before' && !src.attribute) {
      throw badRequest(
        `${at}.timeRelation "before" needs source.attribute: a date of the trigger entity to count back from`,
      );
    }
    if (src.origin === 'trigger' && src.schema && !schemas.has(src.schema)) {
      throw badRequest(`${at}.source.schema: "${src.schema}" is not the flow's entity (${[...schemas].join(', ')})`);
    }
    if (src.origin === 'action') checkActionSource(body, src.id, `${at}.source`, users('schedule_id', s.id));
  });

  for (const [i, a] of body.actions.entries()) {
    if (a.condition_id && !conditionIds.has(a.condition_id)) {
      throw unprocessable(`actions[${i}].condition_id: no condition "${a.condition_id}" in conditions`);
    }
    if (a.schedule_id && !scheduleIds.has(a.schedule_id)) {
      throw unprocessable(`actions[${i}].schedule_id: no schedule "${a.schedule_id}" in schedules`);
    }
    const app = await store.getApp(a.config.app_id);
    if (!app) throw unprocessable(`actions[${i}].config.app_id: app ${a.config.app_id} does not exist`);
    const v = await store.getAppVersion(app.id, app.latest_version);
    const c = v ? findComponent(v.manifest, a.config.component_id) : undefined;
    if (c?.component_type !== 'CUSTOM_FLOW_ACTION') {
      throw unprocessable(
        `actions[${i}].config.component_id: app ${app.id} has no CUSTOM_FLOW_ACTION component "${a.config.component_id}"`,
      );
    }
  }
}

/** The flow to store: the body's fields (the read-only ones a client sent back are the server's to set). */
function toFlow(body: FlowBody, orgId: string, base?: Flow): Flow {
  const now = nowIso();
  const triggers = body.triggers.map((t) => ({ ...t, id: t.id ?? newUuid(), configuration: t.configuration ?? {} }));
  const schema =
    body.entity_schema ??
    triggers
      .map((t) => (t.type === 'entity_operation' ? triggerSchemas({}, t)[0] : t.configuration.schema))
      .find((s) => s !== undefined);
  const enabled = body.enabled ?? true;
  const disabled = enabled
    ? {}
    : { disable_details: base?.disable_details ?? { disabled_at: now, disabled_by: 'user' as const } };
  return {
    id: base?.id ?? newUuid(),
    org_id: orgId,
    flow_name: body.flow_name,
    enabled,
    ...disabled,
    ...(schema ? { entity_schema: schema } : {}),
    triggers,
    ...(body.trigger_conditions ? { trigger_conditions: body.trigger_conditions } : {}),
    ...(body.conditions ? { conditions: body.conditions } : {}),
    ...(body.schedules ? { schedules: body.schedules } : {}),
    actions: body.actions.map((a) => ({ ...a, id: a.id ?? newUuid() })),
    ...(body.max_executions ? { max_executions: body.max_executions } : {}),
    version: (base?.version ?? 0) + 1,
    created_at: base?.created_at ?? now,
    updated_at: now,
  };
}

const present = (exec: Execution) => presentExecution(exec, Date.now());

/** epilot's `RetryReq`: the retry strategies ActionBridge has. */
function retryStrategy(body: unknown): { resume: boolean } {
  if (body === undefined || body === null) return { resume: true };
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a RetryReq object');
  const { retry_strategy, condition_id, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra) throw badRequest(`${extra} is not supported`);
  if (condition_id !== undefined) {
    throw badRequest('condition_id is not supported: RETRY_ALL_PARENT_CONDITION_ACTIONS is not supported');
  }
  if (retry_strategy === undefined || retry_strategy === 'RETRY_AND_RESUME') return { resume: true };
  if (retry_strategy === 'RETRY_AND_STOP') return { resume: false };
  throw badRequest(
    `retry_strategy ${JSON.stringify(retry_strategy)} is not supported: use RETRY_AND_RESUME or RETRY_AND_STOP`,
  );
}

/** epilot's automation API: flows and executions. */
export function automationRoutes(app: FastifyInstance, ctx: Context, who: Who): void {
  const { store, executions } = ctx;
  const flowRoute = { schema: { body: flowSchema }, schemaErrorFormatter: describeFlowError };

  app.get<{ Querystring: { schema?: string; size: number; from: number } }>(
    '/v1/automation/flows',
    { schema: { querystring: { type: 'object', properties: { schema: { type: 'string' }, ...pagingQuery } } } },
    async (req) => {
      const orgId = requireOrgToken(await who(req));
      return store.listFlows(orgId, req.query);
    },
  );

  app.post<{ Body: FlowBody }>('/v1/automation/flows', flowRoute, async (req, reply) => {
    const orgId = requireOrgToken(await who(req));
    await checkFlow(store, req.body);
    const flow = toFlow(req.body, orgId);
    await store.transaction((tx) => tx.insertFlow(flow));
    return reply.status(201).send(flow);
  });

  app.get<{ Params: { flow_id: string } }>('/v1/automation/flows/:flow_id', async (req) => {
    const flow = await store.getFlow(requireOrgToken(await who(req)), req.params.flow_id);
    if (!flow) throw notFound(`flow ${req.params.flow_id}`);
    return flow;
  });

  app.put<{ Params: { flow_id: string }; Body: FlowBody }>('/v1/automation/flows/:flow_id', flowRoute, async (req) => {
    const orgId = requireOrgToken(await who(req));
    const prev = await store.getFlow(orgId, req.params.flow_id);
    if (!prev) throw notFound(`flow ${req.params.flow_id}`);
    await checkFlow(store, req.body);
    const flow = toFlow(req.body, orgId, prev);
    await store.transaction((tx) => tx.updateFlow(flow));
    return flow;
  });

  app.delete<{ Params: { flow_id: string } }>('/v1/automation/flows/:flow_id', async (req, reply) => {
    const orgId = requireOrgToken(await who(req));
    if (!(await store.transaction((tx) => tx.deleteFlow(orgId, req.params.flow_id)))) {
      throw notFound(`flow ${req.params.flow_id}`);
    }
    // epilot documents 200 without a body.
    return reply.status(200).send();
  });

  app.get<{ Querystring: { entity_id?: string; size: number; from: number } }>(
    '/v1/automation/executions',
    { schema: { querystring: { type: 'object', properties: { entity_id: { type: 'string' }, ...pagingQuery } } } },
    async (req) => {
      const page = await store.listExecutions(requireOrgToken(await who(req)), req.query);
      return { ...page, results: page.results.map(present) };
    },
  );

  app.post<{ Body: { entity_id: string; flow_id: string } }>(
    '/v1/automation/executions',
    {
      schema: {
        body: {
          type: 'object',
          required: ['entity_id', 'flow_id'],
          properties: { entity_id: { type: 'string', minLength: 1 }, flow_id: { type: 'string', minLength: 1 } },
        },
      },
    },
    async (req, reply) => {
      const orgId = requireOrgToken(await who(req));
      const exec = await executions.startManually(orgId, req.body.flow_id, req.body.entity_id);
      return reply.status(201).send(present(exec));
    },
  );

  app.post<{ Body: Parameters<typeof executions.resume>[0] }>(
    '/v1/automation/public/executions::resume',
    {
      schema: {
        security: [],
        body: {
          type: 'object',
          required: ['resume_token'],
          additionalProperties: false,
          properties: {
            resume_token: { type: 'string', minLength: 1, maxLength: 512 },
            status: { type: 'string', enum: ['success', 'failed'] },
            outputs: { type: 'object' },
            error_reason: { type: 'string', maxLength: 4096 },
          },
        },
      },
    },
    // Public: the resume token is the credential.
    async (req) => {
      const { execution, resumedAction } = await executions.resume(req.body);
      const shown = present(execution);
      return { execution: shown, resumedAction: shown.actions.find((a) => a.id === resumedAction.id) ?? resumedAction };
    },
  );

  app.delete<{ Params: { execution_id: string } }>('/v1/automation/executions/:execution_id', async (req) =>
    present(await executions.cancel(requireOrgToken(await who(req)), req.params.execution_id)),
  );

  app.delete<{ Params: { execution_id: string; schedule_id: string } }>(
    '/v1/automation/executions/:execution_id/schedules/:schedule_id',
    async (req) => {
      const { execution_id, schedule_id } = req.params;
      return executions.cancelSchedule(requireOrgToken(await who(req)), execution_id, schedule_id);
    },
  );

  // Its own plugin: epilot's client sends this POST without a body (see `acceptBodyless`).
  app.register(async (scope) => {
    acceptBodylessJson(scope);
    scope.post<{ Params: { execution_id: string; action_id: string }; Body: unknown }>(
      '/v1/automation/executions/:execution_id/:action_id/retrigger',
      async (req) => {
        const orgId = requireOrgToken(await who(req));
        const { resume } = retryStrategy(req.body);
        return present(await executions.retrigger(orgId, req.params.execution_id, req.params.action_id, resume));
      },
    );
  });

  app.get<{ Params: { execution_id: string } }>('/v1/automation/executions/:execution_id', async (req) => {
    const exec = await store.getExecution(requireOrgToken(await who(req)), req.params.execution_id);
    if (!exec) throw notFound(`execution ${req.params.execution_id}`);
    return present(exec);
  });
}
