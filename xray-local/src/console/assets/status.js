/* xray-local console: status.js */
