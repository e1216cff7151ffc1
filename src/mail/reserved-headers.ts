/**
 * Custom headers a caller may not set, as data: each rule says which names it covers and why
 * they belong to exosend or to the transport. Everything else (X-*, In-Reply-To, References,
 * List-Unsubscribe, Importance, Auto-Submitted, ...) a caller may set.
 */
export interface ReservedHeaderRule {
  /** Matches a header field name, case-insensitively. */
  pattern: RegExp;
  /** Why it is refused, as the caller reads it in the 400's details. */
  reason: string;
  /** Names the rule covers, for the README and the tests. */
  examples: readonly string[];
}

const exactly = (names: readonly string[]) => new RegExp(`^(?:${names.map((n) => n.replace(/-/g, '\\-')).join('|')})$`, 'i');

const addressHeaders = ['From', 'Sender', 'To', 'Cc', 'Bcc', 'Reply-To', 'Disposition-Notification-To', 'Return-Receipt-To'];
const identityHeaders = ['Subject', 'Message-ID', 'Date', 'MIME-Version'];
const traceHeaders = ['Received', 'Received-SPF', 'Return-Path', 'Errors-To', 'Delivered-To', 'Envelope-To', 'X-Original-To'];
const authenticationHeaders = ['DKIM-Signature', 'DomainKey-Signature', 'Authentication-Results'];

export const reservedHeaderRules: readonly ReservedHeaderRule[] = [
  { pattern: exactly(addressHeaders), reason: 'carries an address exosend sets from the request', examples: addressHeaders },
  { pattern: exactly(identityHeaders), reason: "is set by exosend from the request or the message's id", examples: identityHeaders },
  { pattern: /^content-/i, reason: 'belongs to the MIME structure exosend builds', examples: ['Content-Type', 'Content-Transfer-Encoding', 'Content-Disposition', 'Content-ID'] },
  { pattern: exactly(traceHeaders), reason: 'is a trace header the transport writes', examples: traceHeaders },
  { pattern: /^resent-/i, reason: 'is a trace header the transport writes', examples: ['Resent-From', 'Resent-Sender', 'Resent-To', 'Resent-Cc', 'Resent-Bcc', 'Resent-Date', 'Resent-Message-ID'] },
  { pattern: exactly(authenticationHeaders), reason: 'is an authentication result only the receiving side may write', examples: authenticationHeaders },
  { pattern: /^arc-/i, reason: 'is an authentication result only the receiving side may write', examples: ['ARC-Seal', 'ARC-Message-Signature', 'ARC-Authentication-Results'] },
  {
    pattern: /^(?:x-ms-exchange-|x-microsoft-antispam|x-forefront-)/i,
    reason: "is Exchange Online's own (organisation, routing and spam verdicts)",
    examples: ['X-MS-Exchange-Organization-SCL', 'X-MS-Exchange-Organization-AuthAs', 'X-MS-Exchange-CrossTenant-Id', 'X-Microsoft-Antispam', 'X-Forefront-Antispam-Report'],
  },
];

/** Why a caller may not set `name`, or undefined when it may. */
export function reservedHeaderReason(name: string): string | undefined {
  return reservedHeaderRules.find((rule) => rule.pattern.test(name))?.reason;
}
