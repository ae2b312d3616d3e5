// A stand-in for the Pool's Future (src/pool/future.ts) until that lands: the same constructor
// shape (resolve, reject, control with signal and markRunning), state getters and cancel().
export type FutureState = 'pending' | 'running' | 'fulfilled' | 'rejected' | 'cancelled';

export interface FutureControl {
  readonly signal: AbortSignal;
  markRunning(): boolean;
}

export type FutureExecutor<T> = (resolve: (value: T) => void, reject: (reason?: unknown) => void, control: FutureControl) => void;

const noop = () => {};

export class Future<T> extends Promise<T> {
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  #state: FutureState = 'pending';
  #abort = new AbortController();
  #settle!: { resolve: (value: T) => void; reject: (reason: unknown) => void };

  constructor(executor: FutureExecutor<T>) {
    let settle!: { resolve: (value: T) => void; reject: (reason: unknown) => void };
    super((resolve, reject) => {
      settle = { resolve, reject };
    });
    this.#settle = settle;
    super.then(undefined, noop);
    const control: FutureControl = {
      signal: this.#abort.signal,
      markRunning: () => {
        if (this.done) return false;
        this.#state = 'running';
        return true;
      },
    };
    executor((value) => this.#finish('fulfilled', value), (reason) => this.#finish('rejected', reason), control);
  }

  get state(): FutureState {
    return this.#state;
  }
  get done(): boolean {
    return this.#state !== 'pending' && this.#state !== 'running';
  }
  get running(): boolean {
    return this.#state === 'running';
  }
  get cancelled(): boolean {
    return this.#state === 'cancelled';
  }

  cancel(): boolean {
    if (this.done) return false;
    const error = new Error('Future cancelled');
    error.name = 'AbortError';
    this.#finish('cancelled', error);
    this.#abort.abort(error);
    return true;
  }

  #finish(state: 'fulfilled' | 'rejected' | 'cancelled', outcome: unknown): void {
    if (this.done) return;
    this.#state = state;
    if (state === 'fulfilled') this.#settle.resolve(outcome as T);
    else this.#settle.reject(outcome);
  }
}
