// The one entry the Functions host loads (package.json "main"): importing a trigger registers it.
import './functions/send.js';
