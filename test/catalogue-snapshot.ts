import { diagnose } from '../src/diagnosis/diagnose.js';
import { diagnosisCodes, type DiagnosisContext } from '../src/diagnosis/diagnosis.js';

/** The reviewed rendering of the catalogue; `npm run snapshot` writes it again after a change. */
export const catalogueSnapshotFile = 'test/diagnosis-catalogue.snapshot.md';

/** Settings an admin could have: every placeholder of every cause and fix is filled from these (a new one must be added here). */
export const snapshotContext: Required<DiagnosisContext> = {
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  clientId: '11111111-2222-3333-4444-555555555555',
  mailbox: 'noreply@contoso.com',
  from: 'billing@contoso.com',
  vaultUrl: 'https://contoso-exosend.vault.azure.net',
  secretName: 'exosend-client-secret',
  scope: 'https://outlook.office365.com/.default',
  certificateName: 'exosend-client-certificate',
  thumbprint: '3F2A9C1D7E5B4A6C8D0E1F2A3B4C5D6E7F8A9B0C',
  notBefore: '2026-01-01',
  notAfter: '2027-01-01',
  issuer: 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0',
  subject: '9d3e5f71-2b4c-4a8e-9f10-6c7d8e9fa0b1',
  audience: 'api://AzureADTokenExchange',
  identityClientId: '66666666-7777-8888-9999-000000000000',
  functionApp: 'contoso-exosend',
  resourceGroup: 'contoso-mail',
};

/**
 * Every code's cause and fix exactly as an admin reads them (and pastes the commands into a shell),
 * so that any change to a command, an argument or a path in the portal is a visible diff in review.
 */
export function renderCatalogue(): string {
  const settings = Object.entries(snapshotContext).map(([name, value]) => `- ${name}: ${value}`);
  const entries = diagnosisCodes.map((code) => {
    const d = diagnose(code, snapshotContext);
    const retry = d.retryable ? 'retryable' : 'not retryable';
    return [
      `## ${code}`,
      '',
      `Stage: ${d.stage}; ${retry}${d.retryAfterSeconds === undefined ? '' : `; retry after ${d.retryAfterSeconds} s`}.`,
      '',
      '### Cause',
      '',
      d.cause,
      '',
      '### Fix',
      '',
      d.fix,
      '',
    ].join('\n');
  });
  return [
    '# The diagnosis catalogue, as rendered',
    '',
    'Written by `npm run snapshot`, checked by test/diagnosis-catalogue.test.ts. Review every change:',
    'these are the commands and the portal paths admins follow.',
    '',
    'Rendered with these settings:',
    '',
    ...settings,
    '',
    ...entries,
  ].join('\n');
}
