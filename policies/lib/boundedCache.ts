/**
 * A map that keeps at most `maxEntries` entries and `maxChars` characters of keys, forgetting the
 * oldest first. For answers that are pure functions of the exact string: a stack repeats
 * most of its strings (tags, images, ports, policy documents, the same container definitions in
 * every environment), so each distinct string is worked out once. A key longer than `maxChars` is
 * not kept.
 */
export class BoundedCache<V> {
    private readonly entries = new Map<string, V>();
    private chars = 0;

    constructor(
        readonly maxEntries: number,
        readonly maxChars: number,
    ) {}

    get size(): number {
        return this.entries.size;
    }

    get keyChars(): number {
        return this.chars;
    }

    get(key: string): V | undefined {
        return this.entries.get(key);
    }

    set(key: string, value: V): void {
        if (key.length > this.maxChars) return;
        if (this.entries.delete(key)) this.chars -= key.length;
        this.entries.set(key, value);
        this.chars += key.length;
        for (const oldest of this.entries.keys()) {
            if (this.entries.size <= this.maxEntries && this.chars <= this.maxChars) break;
            this.entries.delete(oldest);
            this.chars -= oldest.length;
        }
    }

    clear(): void {
        this.entries.clear();
        this.chars = 0;
    }
}
