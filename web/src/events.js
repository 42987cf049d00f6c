// Live changes from /api/events (server-sent events). Read with fetch rather than
// EventSource, because EventSource cannot send the bearer token that lets an operator
// receive the incident events of their region; it reconnects with a growing pause.

import { headers } from "./api.js";

export class LiveEvents {
  /** `onEvent(name, data)` for every event, `onState(connected)` on (dis)connection. */
  constructor(onEvent, onState) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.controller = null;
    this.retry = 1000;
  }

  /** (Re)connects, e.g. after a login or logout changed the token. */
  start() {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.run(controller).catch(() => {});
  }

  async run(controller) {
    while (!controller.signal.aborted) {
      try {
        const response = await fetch("/api/events", {
          headers: headers({ Accept: "text/event-stream" }),
          signal: controller.signal,
          cache: "no-store",
        });
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        this.retry = 1000;
        this.onState(true);
        await this.read(response.body, controller);
      } catch (error) {
        if (controller.signal.aborted) return;
      }
      this.onState(false);
      await new Promise((resolve) => setTimeout(resolve, this.retry));
      this.retry = Math.min(this.retry * 2, 30000);
    }
  }

  async read(body, controller) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    while (!controller.signal.aborted) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replaceAll("\r\n", "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length === 0) continue;
        try {
          this.onEvent(name, JSON.parse(data.join("\n")));
        } catch {
          // A malformed event is skipped; the next one is read.
        }
      }
    }
  }
}
