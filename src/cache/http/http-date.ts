// Strict HTTP-date parsing (RFC 9110 §5.6.7). Date.parse accepts almost anything ("0", "tomorrow",
// "2024-01-01") and reads asctime dates in local time, so an invalid Expires would look valid and a
// valid one could be off by hours. Recipients must accept IMF-fixdate and the two obsolete forms.

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const DAY_LONG = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';

/** IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
/** obsolete RFC 850 form: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850_DATE = new RegExp(`^${DAY_LONG}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
/** obsolete asctime form: `Sun Nov  6 08:49:37 1994` (day of month padded with a space). */
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ((?:\\d| )\\d) ${TIME} (\\d{4})$`);

function toMillis(year: number, month: string, day: number, hour: number, minute: number, second: number) {
  const monthIndex = MONTHS.indexOf(month);
  // second 60 is a leap second (RFC 9110 §5.6.7); it is read as the first second of the next minute.
  if (hour > 23 || minute > 59 || second > 60 || day < 1) return undefined;
  const millis = Date.UTC(year, monthIndex, day, hour, minute, second);
  // Day 31 of a 30-day month and 29 February of a common year roll over: not a date.
  if (new Date(millis - (second === 60 ? 1000 : 0)).getUTCDate() !== day) return undefined;
  return millis;
}

/** The instant an HTTP-date names, in ms since the epoch, or undefined when `text` is not an HTTP-date. */
export function parseHttpDate(text: string, now = Date.now()): number | undefined {
  let m = IMF_FIXDATE.exec(text);
  if (m) return toMillis(Number(m[3]), m[2], Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = ASCTIME_DATE.exec(text);
  if (m) return toMillis(Number(m[6]), m[1], Number(m[2].trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  m = RFC850_DATE.exec(text);
  if (m) {
    // A two-digit year more than 50 years in the future is the most recent past year with those digits.
    const thisYear = new Date(now).getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + Number(m[3]);
    if (year > thisYear + 50) year -= 100;
    else if (year <= thisYear - 50) year += 100;
    return toMillis(year, m[2], Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  return undefined;
}

/** `millis` as an IMF-fixdate, the form HTTP senders generate. */
export const formatHttpDate = (millis: number) => new Date(millis).toUTCString();
