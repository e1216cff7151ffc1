import type { SendMailOptions } from 'nodemailer';

/** The message every variant sends: one recipient, a subject and a short plain-text body. */
const recipient = 'ada@fabrikam.example';
const text = 'Your order 4711 has shipped. It should arrive on Thursday; the tracking link is in your account.';

/** As an application posts it to /api/send (or puts it on the queue). */
export function benchRequest(index: number): { to: string[]; subject: string; text: string } {
  return { to: [recipient], subject: `Benchmark ${index}`, text };
}

/** The same message as nodemailer takes it, for the floor and the baseline. */
export function benchMail(from: string, index: number): SendMailOptions {
  return { from, to: recipient, subject: `Benchmark ${index}`, text };
}
