import type { FastifyInstance } from 'fastify';
import { requireOrgToken } from '../../auth/principal.js';
import { findComponent } from '../../delivery/payload.js';
import { notFound, unprocessable } from '../../domain/errors.js';
import type { Flow } from '../../domain/types.js';
import type { Store } from '../../store/store.js';
import { newUuid, nowIso } from '../../util/ids.js';
import { flowSchema, pagingQuery } from '../schemas.js';
import type { Context, Who } from '../server.js';

type FlowBody = Pick<Flow, 'flow_name' | 'triggers' | 'actions'> & Partial<Pick<Flow, 'enabled' | 'entity_schema'>>;

/** Checks what the JSON schema cannot: each action names a custom action component of an existing app. */
async function checkFlow(store: Store, body: FlowBody): Promise<void> {
  body.triggers.forEach((t, i) => {
    if (t.type === 'entity_operation' && !t.configuration?.schema && !body.entity_schema) {
      throw unprocessable(`triggers[${i}].configuration.schema is required (or set entity_schema on the flow)`);
    }
  });
  const ids = new Set<string>();
  for (const [i, a] of body.actions.entries()) {
    if (a.id) {
      if (ids.has(a.id)) throw unprocessable(`actions[${i}].id "${a.id}" is used twice`);
      ids.add(a.id);
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

function toFlow(body: FlowBody, orgId: string, base?: Flow): Flow {
  const now = nowIso();
  const schema = body.entity_schema ?? body.triggers.find((t) => t.configuration?.schema)?.configuration.schema;
  return {
    ...body,
    id: base?.id ?? newUuid(),
    org_id: orgId,
    flow_name: body.flow_name,
    enabled: body.enabled ?? true,
    ...(schema ? { entity_schema: schema } : {}),
    triggers: body.triggers.map((t) => ({ ...t, id: t.id ?? newUuid(), configuration: t.configuration ?? {} })),
    actions: body.actions.map((a) => ({ ...a, id: a.id ?? newUuid() })),
    version: (base?.version ?? 0) + 1,
    created_at: base?.created_at ?? now,
    updated_at: now,
  };
}

/** epilot's automation API: flows and executions. */
export function automationRoutes(app: FastifyInstance, ctx: Context, who: Who): void {
  const { store, executions } = ctx;

  app.get<{ Querystring: { schema?: string; size: number; from: number } }>(
    '/v1/automation/flows',
    { schema: { querystring: { type: 'object', properties: { schema: { type: 'string' }, ...pagingQuery } } } },
    async (req) => {
      const orgId = requireOrgToken(await who(req));
      return store.listFlows(orgId, req.query);
    },
  );

  app.post<{ Body: FlowBody }>('/v1/automation/flows', { schema: { body: flowSchema } }, async (req, reply) => {
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

  app.put<{ Params: { flow_id: string }; Body: FlowBody }>(
    '/v1/automation/flows/:flow_id',
    { schema: { body: flowSchema } },
    async (req) => {
      const orgId = requireOrgToken(await who(req));
      const prev = await store.getFlow(orgId, req.params.flow_id);
      if (!prev) throw notFound(`flow ${req.params.flow_id}`);
      await checkFlow(store, req.body);
      const flow = toFlow(req.body, orgId, prev);
      await store.transaction((tx) => tx.updateFlow(flow));
      return flow;
    },
  );

  app.delete<{ Params: { flow_id: string } }>('/v1/automation/flows/:flow_id', async (req, reply) => {
    const orgId = requireOrgToken(await who(req));
    if (!(await store.transaction((tx) => tx.deleteFlow(orgId, req.params.flow_id)))) {
      throw notFound(`flow ${req.params.flow_id}`);
    }
    return reply.status(204).send();
  });

  app.get<{ Querystring: { entity_id?: string; size: number; from: number } }>(
    '/v1/automation/executions',
    { schema: { querystring: { type: 'object', properties: { entity_id: { type: 'string' }, ...pagingQuery } } } },
    async (req) => store.listExecutions(requireOrgToken(await who(req)), req.query),
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
      return reply.status(201).send(exec);
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
    async (req) => executions.resume(req.body),
  );

  app.delete<{ Params: { execution_id: string } }>('/v1/automation/executions/:execution_id', async (req) =>
    executions.cancel(requireOrgToken(await who(req)), req.params.execution_id),
  );

  app.post<{ Params: { execution_id: string; action_id: string } }>(
    '/v1/automation/executions/:execution_id/:action_id/retrigger',
    async (req) => executions.retrigger(requireOrgToken(await who(req)), req.params.execution_id, req.params.action_id),
  );

  app.get<{ Params: { execution_id: string } }>('/v1/automation/executions/:execution_id', async (req) => {
    const exec = await store.getExecution(requireOrgToken(await who(req)), req.params.execution_id);
    if (!exec) throw notFound(`execution ${req.params.execution_id}`);
    return exec;
  });
}
