/**
 * The admin routes of the metering mirror (admin.ts hands them every route it does not know):
 *
 *   GET  /_sim/telemetry?site=<id|lfdi>&since=<seq>   the readings received (per site, oldest first)
 *   GET  /_sim/mirror-usage-points                   the MirrorUsagePoints with their reading definitions
 *   PUT  /_sim/post-rate                             {postRate: s}  the postRate every MirrorUsagePoint carries
 */
import * as v from 'valibot';
import { lfdiEquals } from '../../domain/sep2-identity.js';
import type { Sep2AdminAnswer } from './admin.js';
import { checked } from './der-admin.js';
import type { MirrorStore } from './mirror-store.js';
import type { Sep2Site } from './store.js';

const PostRate = v.strictObject({ postRate: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(0xffff_ffff)) });

/** The answer to a mirror admin route, or undefined when the route is not one. */
export function answerMirrorAdmin(mirrors: MirrorStore, sites: readonly Sep2Site[], route: string, query: URLSearchParams, body: () => unknown): Sep2AdminAnswer | undefined {
  switch (route) {
    case 'GET /_sim/telemetry': {
      const since = Number(query.get('since') ?? 0) || 0;
      const ref = query.get('site');
      const site = ref === null ? undefined : sites.find((s) => s.id === ref || (/^[0-9A-Fa-f]{40}$/.test(ref) && lfdiEquals(s.lfdi, ref)));
      if (ref !== null && !site) return { status: 404, body: { error: 'notFound', message: `no site ${ref}` } };
      return { status: 200, body: mirrors.readings.filter((r) => r.seq > since && (site === undefined || r.site === site.id)).map(({ body: _body, ...rest }) => rest) };
    }
    case 'GET /_sim/mirror-usage-points':
      return { status: 200, body: mirrors.usagePoints.map((m) => ({ ...m, readings: Object.fromEntries(m.readings) })) };
    case 'PUT /_sim/post-rate': {
      mirrors.postRate = checked(PostRate, body(), 'post-rate').postRate;
      return { status: 200, body: { postRate: mirrors.postRate } };
    }
    default:
      return undefined;
  }
}
