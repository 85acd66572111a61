/*
 * Progress on a terminal: one line on stderr, redrawn at most every 200 ms; silent when
 * stderr is not a TTY (CI logs, pipes) so output stays clean.
 */
export class Progress {
  private last = 0;
  private shown = false;
  private readonly tty = process.stderr.isTTY === true;

  update(text: () => string): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.last < 200) return;
    this.last = now;
    this.shown = true;
    process.stderr.write(`\r\x1b[2K${text()}`);
  }

  done(): void {
    if (this.tty && this.shown) process.stderr.write("\r\x1b[2K");
    this.shown = false;
  }
}
