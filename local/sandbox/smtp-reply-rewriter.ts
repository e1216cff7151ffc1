import type { SMTPServer } from 'smtp-server';
import { enhancedStatusCode, exchangeReplies, type SmtpReply } from './exchange-replies.js';

type Connection = SMTPServer['connections'] extends Set<infer C> ? C : never;

/**
 * smtp-server prefixes every reply with an enhanced status code of its own choosing (535 is
 * always 5.7.8). Exchange's replies carry their own (5.7.3, 5.7.139), so a text that already
 * starts with one is sent as is; smtp-server's fixed texts that a client sees on a normal
 * session are replaced with Exchange's. Every 4xx/5xx is reported to `record`.
 */
export function exchangeSmtpReplies(
  connection: Connection,
  hostname: string,
  record: (reply: SmtpReply) => void,
): void {
  const send = connection.send.bind(connection);
  connection.send = (code, data, context) => {
    let reply: SmtpReply | undefined;
    if (code === 220 && context === false) {
      reply = { code, text: `${hostname} Microsoft ESMTP MAIL Service ready at ${new Date().toUTCString()}` };
    } else if (code === 220) {
      reply = { code, text: '2.0.0 SMTP server ready' };
    } else if (code === 500 && context === 'AUTH') {
      // AUTH is disabled until STARTTLS; smtp-server would call it an unknown command.
      reply = exchangeReplies.unrecognizedAuthenticationType;
    } else if (code === 250 && context === 'MAIL_FROM_OK') {
      reply = exchangeReplies.senderOk;
    } else if (code === 250 && context === 'RCPT_TO_OK') {
      reply = exchangeReplies.recipientOk;
    } else if (code === 354) {
      reply = exchangeReplies.startMailInput;
    } else if (code === 221) {
      reply = { code, text: '2.0.0 Service closing transmission channel' };
    } else if (code === 235) {
      reply = { code, text: '2.7.0 Authentication successful' };
    } else if (typeof data === 'string' && enhancedStatusCode.test(data)) {
      reply = { code, text: data };
    }

    if (reply) {
      if (reply.code >= 400) record(reply);
      return send(reply.code, reply.text, false);
    }
    if (code >= 400) {
      const enhanced = connection._getEnhancedStatusCode(code, context);
      const text = [data].flat().join(' ');
      record({ code, text: enhanced ? `${enhanced} ${text}` : text });
    }
    return send(code, data, context);
  };
}
