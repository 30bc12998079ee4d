/** True for a Date whose time is a number: `new Date('x')` is a Date, but every comparison with it is false. */
export function isValidDate(d: unknown): d is Date {
  return d instanceof Date && Number.isFinite(d.getTime());
}
