// /clearing: monthly clearing for the clearing staff (auditors read). A run or a close of a real month can take a
// minute, so a POST answers 202 with the period's status as Location and the work goes on in this process; the
// status shows it (its step, or why it failed) beside the period's standing in the database. Files are written
// again from the run's stored rows for each download, into a temporary directory removed once sent.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  closePeriod, closeRefusal, currentRunId, listPeriods, notStarted, parsePeriod, PeriodError, periodStatus, runClearing, runFiles,
  type ClearingParams, type Period, type PeriodStatus, type RunResult, type Step,
} from '../clearing/index.js';
import type { Pool } from '../db/pool.js';
import type { Principal } from './keys.js';
import { recordAudit } from './audit-trail.js';
import { HttpProblem, loggable, ProblemSchema } from './problem.js';

/** Jobs remembered (running, done or failed), one per period; past this the oldest finished ones are forgotten. */
export const clearingJobsMax = 120;
const fileNames = ['merchants.csv', 'merchant-fees.csv', 'terminals.csv', 'summary.csv', 'summary.json', 'report.html', 'manifest.json'] as const;
const contentTypes: Record<(typeof fileNames)[number], string> = {
  'merchants.csv': 'text/csv; charset=utf-8', 'merchant-fees.csv': 'text/csv; charset=utf-8', 'terminals.csv': 'text/csv; charset=utf-8',
  'summary.csv': 'text/csv; charset=utf-8', 'summary.json': 'application/json; charset=utf-8', 'report.html': 'text/html; charset=utf-8',
  'manifest.json': 'application/json; charset=utf-8',
};

/** A PeriodError as the problem it answers; every kind is mapped (a new one fails to compile). */
export function periodProblem(err: PeriodError): HttpProblem {
  const kind = err.kind;
  switch (kind) {
    case 'bad-period': return new HttpProblem(400, 'Invalid request', `params.period: ${err.message}`);
    case 'not-started':
    case 'not-ended': return new HttpProblem(409, 'Period not ended', `params.period: ${err.message}`);
    case 'closed': return new HttpProblem(409, 'Period closed', `params.period: ${err.message}`);
    case 'order': return new HttpProblem(409, 'Periods close in order', `params.period: ${err.message}`);
    case 'busy': return new HttpProblem(409, 'Clearing under way', `params.period: ${err.message}`);
    case 'mismatch': return new HttpProblem(422, 'Control totals disagree', err.message);
    default: { const never: never = kind; throw new Error(`unmapped period error ${String(never)}`); }
  }
}

interface Job {
  action: 'run' | 'close'; state: 'running' | 'done' | 'failed'; step: Step | null; stepIndex: number; stepsTotal: number;
  startedAt: string; finishedAt: string | null; actor: string; runId: number | null; error: { kind: string; message: string } | null;
}

const int = z.number().int();
const Params = z.object({ timeZone: z.string(), graceDays: int, terminalFeeFen: int });
const Totals = z.object({
  merchants: int, purchaseCount: int, purchasePoints: int, voidCount: int, voidPoints: int, refundCount: int, refundPoints: int,
  reversalCount: int, reversalPoints: int, netPoints: int, grossFen: int, feeFen: int, netPayableFen: int, terminals: int, terminalDays: int,
  terminalFeeFen: int, issuerOwesFen: int, acquirerRevenueFen: int, averageFeeRate: z.string().describe('Σ fee / Σ gross in percent'), averageFeeAboveLimit: z.boolean(),
});
const Control = z.object({
  ledgerNetPoints: int, ledgerValueFen: int, grossFen: int, netPayablePlusFeeFen: int, ledgerRows: int,
  authorisations: z.object({ purchases: int, voids: int, refunds: int }),
});
const File = z.object({ name: z.string(), sha256: z.string(), rows: int, bytes: int });
const JobSchema = z.object({
  action: z.enum(['run', 'close']), state: z.enum(['running', 'done', 'failed']),
  step: z.string().nullable().describe('rates, ledger, checks, terminals, files'), stepIndex: int, stepsTotal: int,
  startedAt: z.string(), finishedAt: z.string().nullable(), actor: z.string(), runId: int.nullable(),
  error: z.object({ kind: z.string(), message: z.string() }).nullable(),
}).describe('the run or close this process started last for the period');
const Status = z.object({
  period: z.string(), state: z.enum(['open', 'closed']), closedAt: z.string().nullable(), closedBy: z.string().nullable(),
  job: JobSchema.nullable(),
  run: z.object({
    runId: int, provisional: z.boolean(), startedAt: z.string(), finishedAt: z.string(), actor: z.string(), asOf: z.string(),
    params: Params, totals: Totals, control: Control, files: z.array(File),
  }).nullable().describe('the closing run of a closed period, else the latest run'),
});
const Merchant = z.object({
  merchantId: z.string(), merchantName: z.string(), purchaseCount: int, purchasePoints: int, voidCount: int, voidPoints: int,
  refundCount: int, refundPoints: int, reversalCount: int, reversalPoints: int, netPoints: int, grossFen: int,
  feeRatesBp: z.string().describe('the fee rates in force over the period, in basis points'), feeFen: int, netPayableFen: int,
});
const PeriodParams = z.object({ period: z.string().describe('YYYY-MM') });
const FileParams = z.object({ period: z.string().describe('YYYY-MM'), name: z.enum(fileNames) });
const MerchantsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  after: z.string().regex(/^\d{15}$/, { message: 'must be 15 digits' }).optional().describe('cursor: the last merchantId of the previous page'),
});

type MerchantRow = Record<'merchant_id' | 'merchant_name' | 'fee_rates_bp', string> & Record<string, string>;
const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const toMerchant = (r: MerchantRow) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'run_id').map(([k, v]) =>
  [camel(k), k === 'merchant_id' || k === 'merchant_name' || k === 'fee_rates_bp' ? v : Number(v)])) as z.infer<typeof Merchant>;

/** The period from the URL, or a 400 naming params.period. */
function period(text: string): string {
  try {
    return parsePeriod(text).period;
  } catch (err) {
    if (err instanceof PeriodError) throw periodProblem(err);
    throw err;
  }
}

export interface ClearingDeps {
  pool: Pool;
  params: ClearingParams;
  /** The clock (tests); default now. */
  now?: () => Date;
}

export const clearingPlugin: FastifyPluginAsyncZod<ClearingDeps> = async (app, { pool, params, now = () => new Date() }) => {
  const tags = ['clearing'];
  const clearing = { access: { roles: ['clearing'] as const } };
  const jobs = new Map<string, Job>();
  const running = new Set<Promise<void>>();
  // The app's close waits for runs under way: they end in the database either way, and the pool closes after.
  app.addHook('onClose', async () => { await Promise.allSettled([...running]); });

  const remember = (p: string, job: Job) => {
    jobs.delete(p);
    jobs.set(p, job);
    for (const [k, j] of jobs) {
      if (jobs.size <= clearingJobsMax) break;
      if (j.state !== 'running') jobs.delete(k);
    }
  };

  const status = async (p: string): Promise<z.infer<typeof Status>> => {
    const s: PeriodStatus = await periodStatus(pool, p);
    return { ...s, job: jobs.get(p) ?? null };
  };

  /** Starts `work` in the background as the period's job; the answer is 202 with the status to poll. */
  const start = (p: string, action: Job['action'], principal: Principal, work: (onProgress: (s: Step, i: number, n: number) => void) => Promise<RunResult>) => {
    const job: Job = {
      action, state: 'running', step: null, stepIndex: 0, stepsTotal: 0, startedAt: now().toISOString(), finishedAt: null,
      actor: `key:${principal.name}`, runId: null, error: null,
    };
    remember(p, job);
    const done = (async () => {
      try {
        const r = await work((s, i, n) => { job.step = s; job.stepIndex = i; job.stepsTotal = n; });
        Object.assign(job, { state: 'done', runId: r.runId, finishedAt: new Date().toISOString() });
        await recordAudit(pool, principal, {
          action: `clearing.${action}`, subject: p,
          after: { runId: r.runId, provisional: r.provisional, closed: r.closed, asOf: r.asOf, totals: r.totals, files: r.files, sameAsClosed: r.sameAsClosed },
        });
      } catch (err) {
        if (job.state === 'running') {
          Object.assign(job, {
            state: 'failed', finishedAt: new Date().toISOString(),
            error: err instanceof PeriodError ? { kind: err.kind, message: err.message } : { kind: 'internal', message: loggable(err).message },
          });
        }
        // A refusal is the job's answer; a control total that disagreed or a fault is for the operators too.
        if (!(err instanceof PeriodError)) app.log.error({ err: loggable(err), period: p, action }, 'clearing failed');
        else if (err.kind === 'mismatch') app.log.error({ period: p, action, detail: err.message }, 'clearing stopped: control totals disagree');
      }
    })();
    running.add(done);
    void done.finally(() => running.delete(done));
  };

  const refuseIfRunning = (p: string) => {
    const j = jobs.get(p);
    if (j?.state === 'running') {
      throw new HttpProblem(409, 'Clearing under way', `params.period: a ${j.action} of ${p} started at ${j.startedAt} by ${j.actor} is under way (step ${j.step ?? 'starting'}); try again when it has finished`);
    }
  };

  /**
   * A POST that starts a run or a close in the background: refused at once (409) while one of the period is under
   * way here, or when `refusal` says it cannot be done now; else 202 with the status to poll as Location.
   */
  const schedule = (path: string, action: Job['action'], summary: string, refusal: (p: Period, at: Date) => PeriodError | null | Promise<PeriodError | null>,
    work: typeof runClearing) => {
    app.post(path, {
      config: clearing,
      schema: { tags, summary, params: PeriodParams, response: { 202: Status, 409: ProblemSchema } },
    }, async (req, reply) => {
      const p = period(req.params.period);
      const at = now();
      const refused = await refusal(parsePeriod(p), at);
      if (refused) throw periodProblem(refused);
      // After the last await: checking for a job under way and starting one happen in one turn of the event loop.
      refuseIfRunning(p);
      start(p, action, req.principal!, (onProgress) => work(pool, { period: p, actor: `key:${req.principal!.name}`, options: params, onProgress, now: at }));
      reply.code(202).header('location', `/clearing/periods/${p}`);
      return status(p);
    });
  };
  schedule('/periods/:period/runs', 'run', 'Run a period (provisional until it has ended); answers 202 at once with the status to poll as Location',
    (p, at) => notStarted(p, at, params.timeZone, params.graceDays), runClearing);
  schedule('/periods/:period/close', 'close', 'Close an ended period for good (periods close in order); answers 202 at once with the status to poll as Location',
    (p, at) => closeRefusal(pool, p, at, params), closePeriod);

  app.get('/periods', {
    config: clearing,
    schema: { tags, summary: 'Every period that has been run, newest first, with its latest (or closing) run', response: { 200: z.array(Status) } },
  }, async () => (await listPeriods(pool)).map((s) => ({ ...s, job: jobs.get(s.period) ?? null })));

  app.get('/periods/:period', {
    config: clearing,
    schema: { tags, summary: 'A period\'s standing: the run or close under way here, open or closed, its run\'s totals, control totals and file hashes', params: PeriodParams, response: { 200: Status } },
  }, async (req) => {
    const s = await status(period(req.params.period));
    if (!s.run && !s.job) throw new HttpProblem(404, 'Not Found', `params.period: ${s.period} has never been run`);
    return s;
  });

  const runOf = async (p: string) => {
    const runId = await currentRunId(pool, p);
    if (runId === null) throw new HttpProblem(404, 'Not Found', `params.period: ${p} has never been run`);
    return runId;
  };

  app.get('/periods/:period/merchants', {
    config: clearing,
    schema: {
      tags, summary: 'The per-merchant table of the period\'s run (closing run when closed, else latest), by merchantId, keyset-paged',
      params: PeriodParams, querystring: MerchantsQuery,
      response: { 200: z.object({ runId: int, merchants: z.array(Merchant), next: z.string().nullable() }) },
    },
  }, async (req) => {
    const runId = await runOf(period(req.params.period));
    const { rows } = await pool.query<MerchantRow>(
      `SELECT * FROM clearing_merchants WHERE run_id = $1 AND ($2::text IS NULL OR merchant_id > $2) ORDER BY merchant_id LIMIT $3`,
      [runId, req.query.after ?? null, req.query.limit]);
    const merchants = rows.map(toMerchant);
    return { runId, merchants, next: merchants.length === req.query.limit ? merchants[merchants.length - 1]!.merchantId : null };
  });

  app.get('/periods/:period/files/:name', {
    config: clearing,
    schema: {
      tags, summary: 'One of the run\'s files (report.html is the report page), written again from its stored rows; ETag and X-Content-SHA256 give its SHA-256',
      params: FileParams,
    },
  }, async (req, reply) => {
    const p = period(req.params.period);
    const runId = await runOf(p);
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'pointswitch-clearing-download-'));
    const removeTmp = () => rm(tmp, { recursive: true, force: true }).catch(() => {});
    try {
      const dir = path.join(tmp, 'files');
      const files = await runFiles(pool, runId, dir);
      if (!files) throw new HttpProblem(404, 'Not Found', `params.period: the run of ${p} is gone; try again`);
      const file = path.join(dir, req.params.name);
      const sha256 = files.find((f) => f.name === req.params.name)?.sha256 ?? await sha256Of(file);
      const body = createReadStream(file);
      body.once('close', () => void removeTmp());
      reply.type(contentTypes[req.params.name]).header('etag', `"${sha256}"`).header('x-content-sha256', sha256)
        .header('content-disposition', `${req.params.name === 'report.html' ? 'inline' : 'attachment'}; filename="clearing-${p}-${req.params.name}"`);
      return reply.send(body);
    } catch (err) {
      await removeTmp();
      throw err;
    }
  });
};

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}
