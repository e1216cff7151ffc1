import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { diagnoseBounce } from '../src/diagnosis/bounce-diagnosis.js';
import { parseDeliveryReport } from '../src/mail/delivery-report.js';

// Fixtures written in the shapes of Exchange Online's own reports (sisimai/set-of-emails,
// maildir/bsd/lhost-office365-*.eml, read 2026-12): multipart/report with X-MS-Exchange-Message-Is-Ndr,
// a multipart/alternative human part, message/delivery-status, then message/rfc822 or headers only.
const fixture = (name: string) => readFileSync(join('test', 'fixtures', 'reports', name));

describe('delivery reports (RFC 3464)', () => {
  it("when Exchange's NDR for an unknown recipient arrives, then its ENVID, the returned Message-ID and the recipient's failure are read", () => {
    assert.deepEqual(parseDeliveryReport(fixture('exo-ndr-recipient-not-found.eml')), {
      envelopeId: 'invoice-2026-0042',
      originalMessageId: '<exosend.0123456789abcdef0123456789abcdef@contoso.example>',
      reportingMta: 'dns;AM0PR01MB0002.eurprd01.prod.outlook.example',
      recipients: [
        {
          recipient: 'nobody@fabrikam.example',
          action: 'failed',
          status: '5.1.10',
          diagnosticCode:
            'smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient nobody@fabrikam.example not found by SMTP address lookup',
          remoteMta: 'dns;fabrikam-example.mail.protection.outlook.example',
        },
      ],
    });
  });

  it('when an NDR has no ENVID and returns the whole message, then the Message-ID comes from the returned headers, not from its body', () => {
    const report = parseDeliveryReport(fixture('exo-ndr-mailbox-full-no-envid.eml'));
    assert.equal(report?.envelopeId, undefined);
    assert.equal(report?.originalMessageId, '<exosend.fedcba9876543210fedcba9876543210@contoso.example>');
    assert.deepEqual(
      report?.recipients.map((r) => [r.recipient, r.action, r.status]),
      [['full@fabrikam.example', 'failed', '5.2.2']],
    );
    assert.match(
      report.recipients[0]!.diagnosticCode!,
      /^smtp;554 5\.2\.2 mailbox full; STOREDRV/,
      'a folded Diagnostic-Code is unfolded',
    );
  });

  it('when a delay notification names two recipients and returns no message, then each is read, and the Message-ID comes from In-Reply-To', () => {
    const report = parseDeliveryReport(fixture('exo-delay.eml'));
    assert.equal(report?.envelopeId, 'digest-2026-49');
    assert.equal(report?.originalMessageId, '<exosend.00112233445566778899aabbccddeeff@contoso.example>');
    assert.deepEqual(
      report?.recipients.map((r) => [r.recipient, r.action, r.status]),
      [
        ['slow@northwind.example', 'delayed', '4.4.7'],
        ['gone@northwind.example', 'failed', '5.1.1'],
      ],
    );
  });

  it('when a message is not a delivery report (a forwarded one, a reply, a report with no machine part), then it is not read as one', () => {
    assert.equal(parseDeliveryReport(fixture('unrelated-with-forwarded-report.eml')), undefined);
    assert.equal(parseDeliveryReport(fixture('exo-ndr-human-part-only.eml')), undefined);
    assert.equal(
      parseDeliveryReport('From: a@b.example\r\nSubject: hi\r\n\r\nAction: failed\r\nStatus: 5.1.1\r\n'),
      undefined,
    );
    assert.equal(parseDeliveryReport(''), undefined);
    const readReceipt =
      'Content-Type: multipart/report; report-type=disposition-notification; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns;x\r\n\r\nFinal-Recipient: rfc822;ada@fabrikam.example\r\nAction: failed\r\nStatus: 5.1.1\r\n--x--';
    assert.equal(parseDeliveryReport(readReceipt), undefined, 'only report-type=delivery-status is a delivery report');
  });

  it('when the catalogue reads status codes, then only an address that does not exist suppresses, and a delay or a full mailbox never does', () => {
    const read = (code: string, action = 'failed', text = '') => {
      const d = diagnoseBounce(code, action, text);
      return d && [d.code, d.suppress];
    };
    assert.deepEqual(read('5.1.10'), ['RECIPIENT_NOT_FOUND', true]);
    assert.deepEqual(read('5.1.1'), ['RECIPIENT_NOT_FOUND', true]);
    assert.deepEqual(read('5.1.351'), ['RECIPIENT_NOT_FOUND', true]);
    assert.deepEqual(read('5.1.8'), ['SENDER_REJECTED', false], 'a refused sender says nothing about the recipient');
    assert.deepEqual(read('5.2.2'), ['RECIPIENT_MAILBOX_FULL', false]);
    assert.deepEqual(read('4.2.2', 'delayed'), ['DELIVERY_DELAYED', false]);
    assert.deepEqual(read('4.4.7', 'delayed'), ['DELIVERY_DELAYED', false]);
    assert.deepEqual(read('4.4.7', 'failed'), ['DELIVERY_EXPIRED', false]);
    assert.deepEqual(read('5.7.1', 'failed', '550 5.7.1 Service unavailable; client host blocked using Spamhaus'), [
      'BLOCKED_AS_SPAM',
      false,
    ]);
    assert.deepEqual(read('5.7.1', 'failed', 'Delivery not authorized, message refused'), [
      'REJECTED_BY_POLICY',
      false,
    ]);
    assert.deepEqual(read('5.4.316'), ['ROUTING_FAILED', false]);
    assert.equal(read('2.0.0', 'delivered'), undefined);
  });
});
