// A preview of a cron expression's next times in a timezone (the server's next_run_time is
// the authority). Five fields (minute hour day month weekday) or six with seconds first.

type FieldSet = Set<number>;

const RANGES: [number, number][] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];
const NAMES: Record<string, number> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12,
  sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6,
};

function parseField(text: string, [lo, hi]: [number, number]): FieldSet | null {
  const out = new Set<number>();
  for (const part of text.toLowerCase().split(",")) {
    const [range, stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) return null;
    let a: number;
    let b: number;
    const num = (s: string) => (s in NAMES ? NAMES[s] : Number(s));
    if (range === "*" || range === "?") [a, b] = [lo, hi];
    else if (range.includes("-")) {
      const [x, y] = range.split("-");
      [a, b] = [num(x), num(y)];
    } else {
      a = num(range);
      b = stepText === undefined ? a : hi;
    }
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < lo || b > hi || a > b) return null;
    for (let v = a; v <= b; v += step) out.add(v);
  }
  return out;
}

export interface CronSpec {
  minute: FieldSet;
  hour: FieldSet;
  day: FieldSet;
  month: FieldSet;
  weekday: FieldSet;
  dayRestricted: boolean;
  weekdayRestricted: boolean;
}

export function parseCron(expr: string): CronSpec | null {
  let fields = expr.trim().split(/\s+/);
  if (fields.length === 6) fields = fields.slice(1);
  if (fields.length !== 5) return null;
  const sets = fields.map((f, i) => parseField(f, RANGES[i]));
  if (sets.some((s) => s === null)) return null;
  const [minute, hour, day, month, weekday] = sets as FieldSet[];
  if (weekday.has(7)) weekday.add(0);
  return {
    minute,
    hour,
    day,
    month,
    weekday,
    dayRestricted: fields[2] !== "*" && fields[2] !== "?",
    weekdayRestricted: fields[4] !== "*" && fields[4] !== "?",
  };
}

function wallClock(date: Date, timeZone: string) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    weekday: "short",
  }).formatToParts(date);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return {
    month: Number(get("month")),
    day: Number(get("day")),
    hour: Number(get("hour")) % 24,
    minute: Number(get("minute")),
    weekday: NAMES[get("weekday").toLowerCase().slice(0, 3)] ?? 0,
  };
}

/** The next `count` times (minute precision) the expression fires in `timeZone`. */
export function nextRuns(expr: string, timeZone: string, count = 5, from = new Date()): Date[] | null {
  const spec = parseCron(expr);
  if (!spec) return null;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
  } catch {
    return null;
  }
  const out: Date[] = [];
  let t = Math.floor(from.getTime() / 60000) * 60000 + 60000;
  const end = from.getTime() + 400 * 86400000;
  while (out.length < count && t < end) {
    const w = wallClock(new Date(t), timeZone);
    const dayOk = spec.dayRestricted && spec.weekdayRestricted
      ? spec.day.has(w.day) || spec.weekday.has(w.weekday)
      : spec.day.has(w.day) && spec.weekday.has(w.weekday);
    if (!spec.month.has(w.month) || !dayOk) t += (60 - w.minute) * 60000 + (23 - w.hour) * 3600000;
    else if (!spec.hour.has(w.hour)) t += (60 - w.minute) * 60000;
    else if (!spec.minute.has(w.minute)) t += 60000;
    else {
      out.push(new Date(t));
      t += 60000;
    }
  }
  return out;
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** Plain words for the expressions the helper makes; others are shown as they are. */
export function describeCron(expr: string): string {
  const f = expr.trim().split(/\s+/);
  if (f.length !== 5) return f.length === 6 ? "Six fields: the first is seconds." : "Not a cron expression.";
  const [m, h, d, mo, wd] = f;
  const time = /^\d+$/.test(m) && /^\d+$/.test(h) ? `${h.padStart(2, "0")}:${m.padStart(2, "0")}` : null;
  if (f.every((x) => x === "*")) return "Every minute.";
  if (/^\*\/\d+$/.test(m) && h === "*" && d === "*" && mo === "*" && wd === "*") return `Every ${m.slice(2)} minutes.`;
  if (/^\d+$/.test(m) && h === "*" && d === "*" && mo === "*" && wd === "*") return `Every hour at minute ${m}.`;
  if (time && d === "*" && mo === "*" && wd === "*") return `Every day at ${time}.`;
  if (time && d === "*" && mo === "*" && wd === "1-5") return `Every weekday at ${time}.`;
  if (time && d === "*" && mo === "*" && /^\d$/.test(wd)) return `Every ${DAYS[Number(wd) % 7]} at ${time}.`;
  if (time && /^\d+$/.test(d) && mo === "*" && wd === "*") return `Every month on day ${d} at ${time}.`;
  return parseCron(expr) ? "A custom schedule." : "Not a valid cron expression.";
}
