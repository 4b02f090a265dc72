// Delivery ids already accepted (X-GitHub-Delivery), so a redelivery or a replay is not evaluated
// twice. Bounded: the oldest ids are forgotten first (GitHub redelivers within days, a replay of
// an old, forgotten delivery gets one more evaluation of a pull request, no more).

export class SeenDeliveries {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity = 10_000) {}

  /** Records `id`; false when it was already there. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value!);
    return true;
  }

  get size(): number {
    return this.ids.size;
  }
}
