/* xray-local console: analytics.js */
