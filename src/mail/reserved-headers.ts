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

const exactly = (names: readonly string[]) =>
  new RegExp(`^(?:${names.map((n) => n.replace(/-/g, '\\-')).join('|')})$`, 'i');

// Mail-Reply-To and Mail-Followup-To (draft-ietf-drums-mail-followup-to, honoured by mutt and others)
// redirect replies just as Reply-To does; X-Confirm-Reading-To asks for a read receipt, as
// Disposition-Notification-To does: each would send a recipient's answer to an address the request never names.
const addressHeaders = [
  'From',
  'Sender',
  'To',
  'Cc',
  'Bcc',
  'Reply-To',
  'Mail-Reply-To',
  'Mail-Followup-To',
  'Disposition-Notification-To',
  'Return-Receipt-To',
  'X-Confirm-Reading-To',
];
const identityHeaders = ['Subject', 'Message-ID', 'Date', 'MIME-Version'];
const traceHeaders = ['Received', 'Return-Path', 'Errors-To', 'Delivered-To', 'Envelope-To', 'X-Original-To'];

/**
 * A receiver's verdict on who sent a message, under its own name or a copy of it: mailing lists and
 * filters keep an earlier hop's verdict as `X-Original-Authentication-Results`, Trend Micro writes
 * `X-TM-Authentication-Results`, Google `X-Google-DKIM-Signature`. A reader (or a filter) that trusts
 * such a header would trust one a sender wrote. So a name that is one of these, or ends in one after
 * a hyphen, is refused, and so is any name that says "authenticated" or "authentication"
 * (`X-Authenticated-Sender`, sendmail's `X-Authentication-Warning`). RFC 8601 section 5 asks the
 * receiving side to remove Authentication-Results it did not write, and section 7.2 names forged ones
 * as an attack; RFC 8617 (ARC) and RFC 7208 section 9.1 (Received-SPF) are receiver-written too.
 */
const authenticationHeaders = [
  'Authentication-Results',
  'DKIM-Signature',
  'DomainKey-Signature',
  'Received-SPF',
  'ARC-Seal',
  'ARC-Message-Signature',
  'ARC-Authentication-Results',
];
const authenticationPattern = /(?:^|-)(?:dkim-signature|domainkey-signature|received-spf|arc-[a-z-]+)$|authenticat/i;

/**
 * What Exchange Online Protection stamps on a message it has judged (MicrosoftDocs/microsoft-365-docs,
 * microsoft-365/security/office-365-security/anti-spam-message-headers.md: X-Forefront-Antispam-Report,
 * X-Microsoft-Antispam, Authentication-results), and the organisation and routing headers Exchange
 * writes and reads back inside a tenant (mgeeky/decode-spam-headers, decode-spam-headers.py, lists the
 * ones seen on real Office 365 mail). Not every `X-MS-*`: `X-MS-Reactions` is a sender's choice.
 */
const exchangePattern =
  /^(?:x-ms-exchange-|x-microsoft-antispam|x-microsoft-exchange-|x-forefront-|x-exchange-antispam|x-ms-office365-filtering-|x-eop|x-originatororg$|x-originalarrivaltime$|x-ms-oob-tlc-|x-ms-traffictypediagnostic$|x-ms-publictraffictype$|x-incomingheadercount$)/i;
const exchangeHeaders = [
  'X-MS-Exchange-Organization-SCL',
  'X-MS-Exchange-Organization-AuthAs',
  'X-MS-Exchange-CrossTenant-Id',
  'X-Microsoft-Antispam',
  'X-Microsoft-Antispam-Mailbox-Delivery',
  'X-Microsoft-Exchange-Diagnostics',
  'X-Forefront-Antispam-Report',
  'X-Exchange-Antispam-Report-CFA-Test',
  'X-MS-Office365-Filtering-Correlation-Id',
  'X-EOPAttributedMessage',
  'X-EOPTenantAttributedMessage',
  'X-OriginatorOrg',
  'X-OriginalArrivalTime',
  'X-MS-Oob-TLC-OOBClassifiers',
  'X-MS-TrafficTypeDiagnostic',
  'X-MS-PublicTrafficType',
  'X-IncomingHeaderCount',
];

/** Another filter's spam or virus verdict (SpamAssassin's X-Spam-Status and X-Spam-Flag, X-Virus-Scanned): the receiving side writes it. */
const verdictPattern = /^x-(?:spam|virus)-/i;

export const reservedHeaderRules: readonly ReservedHeaderRule[] = [
  {
    pattern: exactly(addressHeaders),
    reason: 'carries an address exosend sets from the request',
    examples: addressHeaders,
  },
  {
    pattern: exactly(identityHeaders),
    reason: "is set by exosend from the request or the message's id",
    examples: identityHeaders,
  },
  {
    pattern: /^content-/i,
    reason: 'belongs to the MIME structure exosend builds',
    examples: ['Content-Type', 'Content-Transfer-Encoding', 'Content-Disposition', 'Content-ID'],
  },
  { pattern: exactly(traceHeaders), reason: 'is a trace header the transport writes', examples: traceHeaders },
  {
    pattern: /^resent-/i,
    reason: 'is a trace header the transport writes',
    examples: [
      'Resent-From',
      'Resent-Sender',
      'Resent-To',
      'Resent-Cc',
      'Resent-Bcc',
      'Resent-Date',
      'Resent-Message-ID',
    ],
  },
  {
    pattern: authenticationPattern,
    reason: 'is, or looks like, an authentication result only the receiving side may write',
    examples: [
      ...authenticationHeaders,
      'X-Original-Authentication-Results',
      'X-TM-Authentication-Results',
      'X-Google-DKIM-Signature',
      'X-Original-ARC-Seal',
      'X-Authenticated-Sender',
      'X-Authentication-Warning',
    ],
  },
  {
    pattern: exchangePattern,
    reason: "is Exchange Online's own (organisation, routing and spam verdicts)",
    examples: exchangeHeaders,
  },
  {
    pattern: verdictPattern,
    reason: "is a spam or virus filter's verdict only the receiving side may write",
    examples: ['X-Spam-Status', 'X-Spam-Flag', 'X-Spam-Score', 'X-Virus-Scanned'],
  },
];

/** Why a caller may not set `name`, or undefined when it may. */
export function reservedHeaderReason(name: string): string | undefined {
  return reservedHeaderRules.find((rule) => rule.pattern.test(name))?.reason;
}
