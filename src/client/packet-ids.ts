/**
 * Packet identifiers for PUBLISH QoS > 0, SUBSCRIBE and UNSUBSCRIBE: a currently unused id for
 * each new packet [MQTT-2.3.1-2], kept by a re-sent packet and free again only after its
 * acknowledgement [MQTT-2.3.1-3].
 */
export class PacketIds {
  private readonly inUse = new Set<number>();
  private last = 0;

  get size(): number {
    return this.inUse.size;
  }

  /** An unused id in 1..65535, now in use; `undefined` when all 65,535 are taken. */
  allocate(): number | undefined {
    if (this.inUse.size >= 65_535) return undefined;
    let id = this.last;
    do {
      id = id === 65_535 ? 1 : id + 1;
    } while (this.inUse.has(id));
    this.inUse.add(id);
    this.last = id;
    return id;
  }

  /** Marks an id taken (a re-sent packet keeps the id it had). */
  claim(id: number): void {
    this.inUse.add(id);
  }

  release(id: number): void {
    this.inUse.delete(id);
  }

  has(id: number): boolean {
    return this.inUse.has(id);
  }

  clear(): void {
    this.inUse.clear();
  }
}
