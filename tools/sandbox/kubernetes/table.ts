// Server-side printing (meta.k8s.io/v1 Table), which kubectl asks for with
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. Columns follow the KServe and Gateway API
// CRDs' additionalPrinterColumns (a subset); other kinds get Name and Age.

type Obj = Record<string, any>;

interface Column { name: string; type: string; format?: string; priority?: number; cell: (o: Obj) => unknown }

function age(o: Obj, now: number): string {
  const t = Date.parse(o.metadata?.creationTimestamp ?? '');
  if (Number.isNaN(t)) return '<unknown>';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 3600 * 2) return `${Math.floor(s / 60)}m`;
  if (s < 86400 * 2) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

const trafficOf = (o: Obj): Obj[] => o.status?.components?.predictor?.traffic ?? [];

function columns(kind: string): Column[] {
  switch (kind) {
    case 'InferenceService':
      return [
        { name: 'URL', type: 'string', cell: (o) => o.status?.url ?? '' },
        { name: 'Ready', type: 'string', cell: (o) => (o.status?.conditions ?? []).find((c: Obj) => c.type === 'Ready')?.status ?? '' },
        { name: 'Prev', type: 'integer', cell: (o) => trafficOf(o).find((t) => t.tag === 'prev')?.percent ?? null },
        { name: 'Latest', type: 'integer', cell: (o) => trafficOf(o).find((t) => t.latestRevision === true)?.percent ?? null },
        { name: 'LatestReadyRevision', type: 'string', cell: (o) => o.status?.components?.predictor?.latestReadyRevision ?? '' },
      ];
    case 'HTTPRoute':
      return [{ name: 'Hostnames', type: 'string', cell: (o) => (o.spec?.hostnames ?? []).join(',') }];
    case 'Lease':
      return [{ name: 'Holder', type: 'string', cell: (o) => o.spec?.holderIdentity ?? '' }];
    case 'Namespace':
      return [{ name: 'Status', type: 'string', cell: (o) => o.status?.phase ?? 'Active' }];
    default:
      return [];
  }
}

export function wantsTable(accept: string | undefined): boolean {
  return !!accept && /as=Table/.test(accept);
}

export function toTable(kind: string, items: Obj[], resourceVersion: string, now = Date.now()): Obj {
  const cols: Column[] = [
    { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name },
    ...columns(kind),
    { name: 'Age', type: 'date', cell: (o) => age(o, now) },
  ];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: cols.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: '', priority: c.priority ?? 0 })),
    rows: items.map((o) => ({
      cells: cols.map((c) => c.cell(o)),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: { ...o.metadata, managedFields: undefined } },
    })),
  };
}
