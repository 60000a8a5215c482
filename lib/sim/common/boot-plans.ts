/**
 * How later instances boot, set per image or per host (a machine, a GPU type).
 * The image's plan wins over the host's: an image that cannot be pulled fails anywhere.
 */
export class BootPlans<Host, Plan extends string> {
  readonly #byHost = new Map<Host, Plan>();
  readonly #byImage = new Map<string, Plan>();

  setHost(host: Host, plan: Plan): void {
    this.#byHost.set(host, plan);
  }

  setImage(image: string, plan: Plan): void {
    this.#byImage.set(image, plan);
  }

  /** The plan of an instance created now; `normal` when neither was set. */
  planFor(image: string, host: Host): Plan | 'normal' {
    return this.#byImage.get(image) ?? this.#byHost.get(host) ?? 'normal';
  }
}
