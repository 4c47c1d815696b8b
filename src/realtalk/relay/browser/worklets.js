// Audio worklets of the realtalk browser example.
//
// "mic-capture": microphone -> PCM16 mono at 24 kHz (the realtime protocol's format), posted in
//   chunks of about 40 ms together with the chunk's level in dBFS (for local barge-in).
// "player": assistant audio (float samples at 24 kHz) -> the speakers. It counts what it has
//   actually played, per item, and empties its queue at once on "clear", answering with the
//   exact position: that is how many milliseconds the user heard before interrupting.
//
// Both resample between 24 kHz and the AudioContext's rate by linear interpolation: plenty
// for speech, and cheap.

const PROTOCOL_RATE = 24000;
const CHUNK_SAMPLES = 960; // 40 ms at 24 kHz

class MicCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / PROTOCOL_RATE; // input samples per output sample
    this.position = 0; // fractional read position into `pending`
    this.pending = new Float32Array(0);
    this.out = new Int16Array(CHUNK_SAMPLES);
    this.filled = 0;
    this.energy = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    const joined = new Float32Array(this.pending.length + channel.length);
    joined.set(this.pending);
    joined.set(channel, this.pending.length);
    let pos = this.position;
    while (pos + 1 < joined.length) {
      const i = Math.floor(pos);
      const frac = pos - i;
      const sample = joined[i] * (1 - frac) + joined[i + 1] * frac;
      this.energy += sample * sample;
      const clipped = Math.max(-1, Math.min(1, sample));
      this.out[this.filled++] = clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff;
      if (this.filled === CHUNK_SAMPLES) {
        const rms = Math.sqrt(this.energy / CHUNK_SAMPLES);
        const dbfs = rms > 0 ? 20 * Math.log10(rms) : -120;
        this.port.postMessage({ pcm: this.out.buffer, dbfs }, [this.out.buffer]);
        this.out = new Int16Array(CHUNK_SAMPLES);
        this.filled = 0;
        this.energy = 0;
      }
      pos += this.step;
    }
    const keep = Math.floor(pos);
    this.pending = joined.slice(keep);
    this.position = pos - keep;
    return true;
  }
}

class Player extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = PROTOCOL_RATE / sampleRate; // source samples per output sample
    this.queue = []; // [{item, samples: Float32Array}]
    this.offset = 0; // fractional read position in queue[0]
    this.played = {}; // item id -> source samples played
    this.quanta = 0;
    this.port.onmessage = (event) => this.command(event.data);
  }

  command(message) {
    if (message.type === "push") {
      this.queue.push({ item: message.item, samples: message.samples });
    } else if (message.type === "clear") {
      let dropped = 0;
      for (const chunk of this.queue) dropped += chunk.samples.length;
      dropped -= Math.floor(this.offset);
      const item = this.queue.length ? this.queue[0].item : message.item;
      this.queue = [];
      this.offset = 0;
      this.port.postMessage({
        type: "cleared",
        item,
        played: this.played[item] || 0,
        dropped: Math.max(0, dropped),
      });
    }
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    for (let n = 0; n < out.length; n++) {
      if (!this.queue.length) {
        out[n] = 0;
        continue;
      }
      const chunk = this.queue[0];
      const i = Math.floor(this.offset);
      const frac = this.offset - i;
      const next = i + 1 < chunk.samples.length ? chunk.samples[i + 1] : chunk.samples[i];
      out[n] = chunk.samples[i] * (1 - frac) + next * frac;
      const before = Math.floor(this.offset);
      this.offset += this.step;
      this.played[chunk.item] = (this.played[chunk.item] || 0) + (Math.floor(this.offset) - before);
      if (this.offset >= chunk.samples.length) {
        this.offset -= chunk.samples.length;
        this.queue.shift();
      }
    }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    if (++this.quanta % 8 === 0) {
      const item = this.queue.length ? this.queue[0].item : null;
      this.port.postMessage({ type: "position", item, played: item ? this.played[item] : 0,
                              queued: this.queue.reduce((s, c) => s + c.samples.length, 0) });
    }
    return true;
  }
}

registerProcessor("mic-capture", MicCapture);
registerProcessor("player", Player);
