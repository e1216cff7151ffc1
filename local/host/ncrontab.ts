/** The six fields of an NCRONTAB expression, as the Functions timer trigger reads it. */
const fields = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'weekday', min: 0, max: 6 },
] as const;

export type Schedule = Set<number>[];

/** Parses `sec min hour day month weekday` with `*`, lists, ranges and steps (names of days and months are not supported). */
export function parseNcrontab(expression: string): Schedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 6)
    throw new Error(`"${expression}" is not an NCRONTAB expression: it needs six fields (seconds first).`);
  return parts.map((part, i) => {
    const { name, min, max } = fields[i]!;
    const values = new Set<number>();
    for (const item of part.split(',')) {
      const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
      if (!match) throw new Error(`"${item}" is not a valid ${name} in "${expression}".`);
      const from = match[1] === '*' ? min : Number(match[2]);
      const to = match[1] === '*' ? max : match[3] !== undefined ? Number(match[3]) : match[4] ? max : from;
      const step = Number(match[4] ?? 1);
      if (from < min || to > max || from > to || step < 1)
        throw new Error(`"${item}" is out of range for ${name} in "${expression}".`);
      for (let v = from; v <= to; v += step) values.add(v);
    }
    return values;
  });
}

/** The first time after `after` (local time, whole seconds) that the schedule names. */
export function nextOccurrence(schedule: Schedule, after: Date): Date {
  const t = new Date(after.getTime());
  t.setMilliseconds(0);
  t.setSeconds(t.getSeconds() + 1);
  const [seconds, minutes, hours, days, months, weekdays] = schedule as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  for (let guard = 0; guard < 366 * 24 * 60 * 60; guard++) {
    if (!months.has(t.getMonth() + 1)) {
      t.setMonth(t.getMonth() + 1, 1);
      t.setHours(0, 0, 0);
      continue;
    }
    if (!days.has(t.getDate()) || !weekdays.has(t.getDay())) {
      t.setDate(t.getDate() + 1);
      t.setHours(0, 0, 0);
      continue;
    }
    if (!hours.has(t.getHours())) {
      t.setHours(t.getHours() + 1, 0, 0);
      continue;
    }
    if (!minutes.has(t.getMinutes())) {
      t.setMinutes(t.getMinutes() + 1, 0);
      continue;
    }
    if (!seconds.has(t.getSeconds())) {
      t.setSeconds(t.getSeconds() + 1);
      continue;
    }
    return t;
  }
  throw new Error('The schedule names no time within a year.');
}
