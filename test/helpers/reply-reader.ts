/**
 * @module test/helpers/reply-reader
 * The one FTP reply reader of the test clients (RawClient, FtpsClient): assembles replies from
 * control-connection text (RFC 959 §4.2: "ddd text" is a whole reply; "ddd-text" opens a
 * multi-line reply that ends at the first line starting with "ddd "), queues them and hands
 * them out with a bounded wait. Unlike the doctor's ReplyParser it keeps every line verbatim
 * (code prefix included), because tests assert on the exact reply text.
 */

export interface Reply {
  readonly code: number;
  /** Full reply text, all lines joined with \n, CRLF removed. */
  readonly text: string;
  readonly lines: readonly string[];
}

interface Waiter {
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: Error) => void;
}

export class ReplyReader {
  #buffer = '';
  #current: string[] = [];
  #replies: Reply[] = [];
  #waiters: Waiter[] = [];
  #closedError: Error | null = null;

  /** Feeds received text; completed replies go to the oldest waiter, else to the queue. */
  push(data: string): void {
    this.#buffer += data;
    let index: number;
    while ((index = this.#buffer.indexOf('\r\n')) !== -1) {
      const line = this.#buffer.slice(0, index);
      this.#buffer = this.#buffer.slice(index + 2);
      this.#current.push(line);
      const first = this.#current[0] as string;
      const code = first.slice(0, 3);
      const done = first[3] !== '-' || (this.#current.length > 1 && line.startsWith(`${code} `));
      if (!done) continue;
      const lines = this.#current;
      this.#current = [];
      const reply: Reply = { code: Number(code), text: lines.join('\n'), lines };
      const waiter = this.#waiters.shift();
      if (waiter) waiter.resolve(reply);
      else this.#replies.push(reply);
    }
  }

  /** Replies received but not read yet. */
  get pending(): readonly Reply[] {
    return this.#replies;
  }

  /**
   * No reply can come any more: every pending read fails with `error`, and so does every later
   * read once the queue is empty.
   */
  fail(error: Error): void {
    this.#closedError = error;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  /** The next reply, waiting up to `ms`. */
  read(ms: number): Promise<Reply> {
    const queued = this.#replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closedError) return Promise.reject(this.#closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no reply within ${ms} ms`));
      }, ms);
      const waiter: Waiter = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.push(waiter);
    });
  }
}
