// The health alerts operations watch: an action group that mails alertEmail, and eight log alert
// rules on Application Insights. Each description is what the on-call person does first. The
// telemetry names are the code's (src/health/availability.ts, src/telemetry/mail-events.ts);
// test/infra.test.ts fails when a query names one the code no longer emits.
//
// Every rule runs its query as a user-assigned identity of its own. A log search alert rule without
// one runs with the permissions of the last user who edited it (MicrosoftDocs/azure-monitor-docs,
// articles/azure-monitor/alerts/alerts-create-log-alert-rule.md, "Identity"); when that user loses
// access the query fails, and a rule whose query fails for a week is disabled
// (alerts-troubleshoot-log.md): the alerts would stop without a word.
param namePrefix string
param actionGroupName string
param location string
param tags object
param applicationInsightsName string
param logAnalyticsName string
param alertEmail string
@description('Resource ID of the user-assigned identity the rules query as.')
param identityId string
param identityPrincipalId string

@description('Retries in 15 minutes (with at least a fifth of the sends retried) that count as a rising rate of transient failures.')
param transientFailureThreshold int = 10

@description('Hard bounces in an hour (at least one in twenty of the messages sent) that put the sending mailbox\'s reputation at risk.')
param bounceThreshold int = 10

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

// Log Analytics Reader (Microsoft Learn, "Azure built-in roles for Monitor"): */read and the
// workspace's query actions, nothing that writes. The rule identity needs a reader role on every
// workspace its query reads (alerts-create-log-alert-rule.md), and, since the rules are scoped to
// Application Insights (resource-context queries), Microsoft.Insights/logs/*/read on that resource
// (alerts-troubleshoot-log.md, "permission for the logs"), which the same role's */read grants.
var logAnalyticsReader = '73c42c96-874c-492b-b04d-ab87d138a893'

resource readWorkspace 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, identityPrincipalId, logAnalyticsReader)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsReader)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource readApplicationInsights 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, logAnalyticsReader)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsReader)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'exosend'
    enabled: true
    emailReceivers: [
      { name: 'on-call', emailAddress: alertEmail, useCommonAlertSchema: true }
    ]
  }
}

// `success` is a string in the classic availabilityResults schema and a bool in the workspace's
// AppAvailabilityResults (MicrosoftDocs/azure-monitor-docs, articles/azure-monitor/app/
// convert-classic-resource.md, "AppAvailabilityResults"), and a Kusto comparison of a string with a
// bool is not one that holds under both. tostring() takes any scalar, and in~ compares without case,
// so `tostring(success) in~ ("false", "0")` is true for a false bool ("false"), for the classic
// string whichever spelling it carries ("False", "false", "0"), and for nothing else; null is not
// a failure. test/infra.test.ts fails on any other comparison of success.
var rules = [
  {
    name: 'health-check-failing'
    severity: 1
    windowSize: 'PT10M'
    description: 'exosend\'s health check (availability test exosend-smtp) failed. First: open Application Insights > Availability, read the failed result\'s message: it names the failing stage and the diagnosis code with its fix (vault, token, claims, SMTP AUTH, send). Then run `npx exosend doctor --settings <the app settings>` to confirm, and fix the setup step it names.'
    query: 'availabilityResults\n| where name == "exosend-smtp" and tostring(success) in~ ("false", "0")\n| project timestamp, message, customDimensions'
    operator: 'GreaterThan'
    threshold: 0
  }
  {
    name: 'health-check-silent'
    severity: 1
    windowSize: 'PT15M'
    description: 'No exosend-smtp health result arrived for 15 minutes: the app is stopped or not deploying, its timer is not running, or its telemetry is refused. First: check the function app is running (Azure portal > Function App > Overview) and its log stream; then that its identity still holds Monitoring Metrics Publisher on Application Insights and APPLICATIONINSIGHTS_AUTHENTICATION_STRING names it.'
    query: 'availabilityResults\n| where name == "exosend-smtp"'
    operator: 'LessThan'
    threshold: 1
  }
  {
    name: 'dead-letter'
    severity: 2
    windowSize: 'PT5M'
    description: 'A queued message was dead-lettered (exosend.dead-lettered): it will not be sent. First: read the event\'s code in customDimensions (or GET /api/messages/{id}) for the diagnosis and its fix; once fixed, resubmit the request from the outbound-mail-poison queue.'
    query: 'customEvents\n| where name == "exosend.dead-lettered"\n| project timestamp, id = tostring(customDimensions.id), code = tostring(customDimensions.code)'
    operator: 'GreaterThan'
    threshold: 0
  }
  {
    name: 'transient-failures-rising'
    severity: 3
    windowSize: 'PT15M'
    description: 'Transient failures are rising (exosend.retry): Exchange throttles (432 4.3.2, 4xx) or Entra, the vault or storage answer slowly. First: group the retries by customDimensions.code to see which; if CONCURRENCY_LIMIT, check nothing else sends as this mailbox; if it persists, the messages still wait in the queue and are not lost.'
    query: 'customEvents\n| where name in ("exosend.retry", "exosend.sent")\n| summarize retries = countif(name == "exosend.retry"), sent = countif(name == "exosend.sent")\n| where retries >= ${transientFailureThreshold} and retries * 5 >= sent'
    operator: 'GreaterThan'
    threshold: 0
  }
  {
    name: 'bounce-rate-high'
    severity: 2
    windowSize: 'PT1H'
    description: 'Delivery reports say that one message in twenty or more failed for its recipient (exosend.bounce with status failed, against exosend.sent): mail to addresses that do not exist spends the sending mailbox\'s reputation until Exchange Online restricts it (5.1.8 Access denied, bad outbound sender) and every send fails. First: group the bounces by customDimensions.code and customDimensions.mailbox; RECIPIENT_NOT_FOUND means a producer sends to a stale list (the addresses are suppressed, but the list must be cleaned); BLOCKED_AS_SPAM means check SPF, DKIM and DMARC and Microsoft Defender > Restricted entities.'
    query: 'customEvents\n| where name in ("exosend.bounce", "exosend.sent")\n| summarize bounces = countif(name == "exosend.bounce" and tostring(customDimensions.status) == "failed"), sent = countif(name == "exosend.sent")\n| where bounces >= ${bounceThreshold} and bounces * 20 >= sent'
    operator: 'GreaterThan'
    threshold: 0
  }
  {
    name: 'delivery-reader-failing'
    severity: 3
    windowSize: 'PT30M'
    description: 'The delivery reports reader failed three times or more in 30 minutes (exosend.reader with ok false): bounces are not read back, recipients stay pending, and addresses that do not exist are not suppressed. Sending is not affected. First: read customDimensions.code; READER_ACCESS_DENIED means Mail.Read is missing or the mailbox is outside the app\'s scope: run `npx exosend doctor --settings <the app settings>`, which prints the New-ManagementRoleAssignment -Role "Application Mail.Read" command to run.'
    query: 'customEvents\n| where name == "exosend.reader" and tostring(customDimensions.ok) =~ "false"\n| summarize failures = count(), code = take_any(tostring(customDimensions.code))\n| where failures >= 3'
    operator: 'GreaterThan'
    threshold: 0
  }
  {
    name: 'mailbox-day-spent'
    severity: 2
    windowSize: 'PT15M'
    description: 'A mailbox has sent its rolling day\'s recipients (EXOSEND_RECIPIENTS_PER_DAY; Exchange Online allows 10,000): every send from it answers 429 and queued mail waits until the day frees, while the health check itself still passes. The health check\'s availability result carries budgetSpent (the mailbox, its day, and in how many seconds one recipient fits again); GET /api/health answers 503 with status degraded. First: find who sent the volume (customEvents exosend.sent grouped by customDimensions.caller); with function keys any holder can spend the whole day, so give callers Entra identities with a daily quota each (docs/callers.md), or add mailboxes (EXOSEND_MAILBOXES).'
    // the property, not `success`: a spent day is not a failed check (src/health/budget-spent.ts)
    query: 'availabilityResults\n| where name == "exosend-smtp" and isnotempty(tostring(customDimensions.budgetSpent))\n| project timestamp, budgetSpent = tostring(customDimensions.budgetSpent)'
    operator: 'GreaterThan'
    threshold: 0
  }
  {
    name: 'mailbox-minute-saturated'
    severity: 3
    windowSize: 'PT15M'
    description: 'Callers have asked a mailbox for more than its minute (EXOSEND_RATE_PER_MINUTE; Exchange Online allows 30 a minute) without a break for 5 minutes or more: their sends wait for a slot, /api/send answers 429 MINUTE_LIMIT_REACHED to those that cannot wait, and queued mail is deferred and falls behind, while the health check itself still passes. The health check\'s availability result carries minuteSaturated (the mailbox, its minute, and for how many seconds sends have kept waiting); GET /api/health answers 503 with status degraded. A burst that fills the minute for a moment does not fire this. First: find who sends the volume (customEvents exosend.sent grouped by customDimensions.caller); give callers Entra identities with a share of the minute each (docs/callers.md), move what can wait to /api/enqueue, or add mailboxes (EXOSEND_MAILBOXES).'
    // its own property: a saturated minute must not read as a spent day (src/health/minute-saturated.ts)
    query: 'availabilityResults\n| where name == "exosend-smtp" and isnotempty(tostring(customDimensions.minuteSaturated))\n| project timestamp, minuteSaturated = tostring(customDimensions.minuteSaturated)'
    operator: 'GreaterThan'
    threshold: 0
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in rules: {
    name: '${namePrefix}-${rule.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    identity: {
      type: 'UserAssigned'
      userAssignedIdentities: { '${identityId}': {} }
    }
    // the rule's query is validated as it is created: its identity must read the logs by then
    dependsOn: [readWorkspace, readApplicationInsights]
    properties: {
      displayName: 'exosend: ${rule.name}'
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [applicationInsights.id]
      evaluationFrequency: 'PT5M'
      windowSize: rule.windowSize
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: rule.operator
            threshold: rule.threshold
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      autoMitigate: true
      actions: { actionGroups: [actionGroup.id] }
    }
  }
]
