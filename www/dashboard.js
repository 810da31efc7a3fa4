// The dashboard's script, served from the same origin so that the page's Content Security Policy
// (script-src 'self') allows it. The token lives in this page's memory only: it is typed, never
// stored, never pre-filled.
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var PAGE = 100;
  var token = '';
  var cursors = [];  // X-Next-Before of each page shown before this one: the way back
  var before = null; // the page shown: null for the newest
  var timer = null;
  // Loads overlap (the timer, a click, a saved rule): only the newest one's answer is shown, so a
  // slow earlier answer never overwrites a later one.
  var latest = { list: 0, money: 0 };
  function newest(kind) {
    var n = ++latest[kind];
    return function (show) {
      return function (value) { if (n === latest[kind]) show(value); };
    };
  }

  function authorized(path) {
    return fetch(path, { headers: { Authorization: 'Bearer ' + token } });
  }
  function get(path) {
    return authorized(path).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || response.status);
        return { body: body, headers: response.headers };
      });
    });
  }
  function cell(row, text, numeric) {
    var td = document.createElement('td');
    td.textContent = text == null || text === '' ? '—' : text;
    if (numeric) td.className = 'n';
    row.appendChild(td);
    return td;
  }
  // Minor units as the currency writes them (Intl knows each currency's decimals).
  function money_text(minor, currency) {
    var digits = new Intl.NumberFormat('en', { style: 'currency', currency: currency }).resolvedOptions().maximumFractionDigits;
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency }).format(minor / Math.pow(10, digits));
  }
  function range() {
    return 'since=' + encodeURIComponent($('since').value) + '&until=' + encodeURIComponent($('until').value);
  }

  // Bars per day (clicks, signups, conversions) on the left axis, and the net revenue of the
  // busiest currency as a line on the right axis, drawn here: the collector runs offline, so no
  // chart library from a CDN.
  function chart(days) {
    var svg = $('chart'), ns = 'http://www.w3.org/2000/svg';
    svg.textContent = '';
    var width = svg.clientWidth || 600, height = 200, left = 36, right = 64, bottom = 20, top = 10;
    var plot = height - bottom - top;
    function add(tag, attributes, text) {
      var el = document.createElementNS(ns, tag);
      Object.keys(attributes).forEach(function (k) { el.setAttribute(k, attributes[k]); });
      if (text != null) el.textContent = text;
      svg.appendChild(el);
      return el;
    }
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    if (!days.length) { add('text', { x: 8, y: 20 }, 'no activity in this range'); return; }
    var max = Math.max(1, Math.max.apply(null, days.map(function (d) { return Math.max(d.clicks, d.signups, d.conversions); })));
    var totals = {};
    days.forEach(function (d) { Object.keys(d.revenue || {}).forEach(function (c) { totals[c] = (totals[c] || 0) + Math.abs(d.revenue[c]); }); });
    var currency = Object.keys(totals).sort(function (a, b) { return totals[b] - totals[a]; })[0];
    var revenue = days.map(function (d) { return currency ? (d.revenue || {})[currency] || 0 : 0; });
    var high = Math.max(1, Math.max.apply(null, revenue)), low = Math.min(0, Math.min.apply(null, revenue));
    var slot = (width - left - right) / days.length, bar = Math.max(2, Math.min(18, slot / 4));
    // The axes, with their values.
    [0, 0.5, 1].forEach(function (f) {
      var y = top + plot * (1 - f);
      add('line', { x1: left, x2: width - right, y1: y, y2: y, stroke: '#ddd' });
      add('text', { x: left - 4, y: y + 3, 'text-anchor': 'end' }, String(Math.round(max * f)));
      if (currency) add('text', { x: width - right + 4, y: y + 3 }, money_text(low + (high - low) * f, currency));
    });
    var colours = [['clicks', '#4c78a8'], ['signups', '#f58518'], ['conversions', '#54a24b']];
    days.forEach(function (d, i) {
      var x = left + i * slot + slot / 2 - 1.5 * bar;
      colours.forEach(function (c, k) {
        var h = plot * d[c[0]] / max;
        add('rect', { x: x + k * bar, y: top + plot - h, width: bar, height: h, fill: c[1] })
          .appendChild(document.createElementNS(ns, 'title')).textContent = d.day + ': ' + d[c[0]] + ' ' + c[0];
      });
      if (days.length <= 14 || i % Math.ceil(days.length / 14) === 0) {
        add('text', { x: left + i * slot + slot / 2, y: height - 6, 'text-anchor': 'middle' }, d.day.slice(5));
      }
    });
    if (currency) {
      var points = revenue.map(function (r, i) {
        return (left + i * slot + slot / 2) + ',' + (top + plot * (1 - (r - low) / (high - low)));
      }).join(' ');
      add('polyline', { points: points, fill: 'none', stroke: '#b279a2', 'stroke-width': 2 })
        .appendChild(document.createElementNS(ns, 'title')).textContent = 'net revenue, ' + currency;
    }
    $('revenue-currency').textContent = currency ? 'net revenue (' + currency + ', right axis)' : 'net revenue';
  }

  function partners(report) {
    var body = $('partners');
    body.textContent = '';
    var percent = function (r) { return r == null ? null : (100 * r).toFixed(1) + ' %'; };
    report.partners.forEach(function (p) {
      var row = document.createElement('tr');
      cell(row, p.partner_key + (p.status === 'paused' ? ' (paused)' : p.registered ? '' : ' (unregistered)'));
      cell(row, p.clicks, true);
      cell(row, p.suppressed_clicks, true);
      cell(row, p.signups, true);
      cell(row, p.contested, true);
      cell(row, p.conversions, true);
      cell(row, percent(p.signups_per_click), true);
      cell(row, percent(p.conversion_rate), true);
      cell(row, (p.revenue || []).map(function (r) { return money_text(r.net, r.currency); }).join(', '), true);
      cell(row, p.last_activity);
      row.dataset.partner = p.partner_key;
      body.appendChild(row);
    });
  }

  function records(list, total) {
    var rows = $('rows');
    rows.textContent = '';
    list.forEach(function (s) {
      var row = document.createElement('tr');
      var credit = s.credit ? (s.credit.credited ? 'credited' : 'not credited') + ' (' + s.credit.standing + ')' +
        (s.credit.contested ? ', contested' : '') : null;
      [s.received_at, s.type, s.customer_key, s.name, s.email, s.partner_key, credit].forEach(function (v) { cell(row, v); });
      cell(row, s.amount != null ? money_text(s.amount, s.currency) : null, true);
      [s.xid, s.page_url].forEach(function (v) { cell(row, v); });
      if (s.credit) row.title = s.credit.reason;
      rows.appendChild(row);
    });
    $('table').hidden = list.length === 0;
    var first = cursors.length * PAGE;
    $('page').textContent = list.length
      ? 'records ' + (first + 1) + '–' + (first + list.length) + ' of ' + total + ', newest first'
      : 'no records in this range';
  }

  function send(method, path, body) {
    return fetch(path, {
      method: method,
      headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) throw new Error(answer.error || response.status);
        return answer;
      });
    });
  }
  function download(path, fallback) {
    return authorized(path).then(function (response) {
      if (!response.ok) throw new Error(response.status);
      var name = (/filename="([^"]+)"/.exec(response.headers.get('Content-Disposition') || '') || [])[1] || fallback;
      return response.blob().then(function (blob) {
        var a = document.createElement('a');
        a.href = URL.createObjectURL(blob);
        a.download = name;
        document.body.appendChild(a);
        a.click();
        a.remove();
      });
    });
  }

  // Money owed: the partners with the most due first; a payout is recorded with its reference.
  function money(owed) {
    var body = $('money');
    body.textContent = '';
    var lines = owed.partners.slice().sort(function (a, b) { return b.due - a.due; }).slice(0, 200);
    lines.forEach(function (p) {
      var row = document.createElement('tr');
      cell(row, p.partner_key + ' (' + p.currency + ')');
      [p.earned, p.reversed, p.adjustments, p.paid, p.due, p.pending].forEach(function (v) { cell(row, amount(v, p.currency), true); });
      cell(row, p.next_due_on);
      var actions = cell(row, '');
      actions.textContent = '';
      var pay = document.createElement('button');
      pay.type = 'button';
      pay.textContent = 'Pay';
      pay.disabled = p.due <= 0;
      pay.addEventListener('click', function () {
        $('payout').hidden = false;
        $('payout-partner').value = p.partner_key;
        $('payout-currency').value = p.currency;
        $('payout-amount').value = p.due;
        $('payout-reference').value = '';
        $('payout-reference').focus();
      });
      var csv = document.createElement('button');
      csv.type = 'button';
      csv.textContent = 'Statement CSV';
      csv.addEventListener('click', function () {
        download('/v1/partners/' + encodeURIComponent(p.partner_key) + '/statement.csv?' + range(), 'statement.csv')
          .catch(function (error) { $('money-status').textContent = 'Could not export: ' + error.message; });
      });
      actions.appendChild(pay);
      actions.appendChild(document.createTextNode(' '));
      actions.appendChild(csv);
      row.dataset.partner = p.partner_key;
      body.appendChild(row);
    });
    $('money-table').hidden = lines.length === 0;
    $('money-status').textContent = owed.partners.length
      ? owed.partners.length + ' partner balances as of ' + owed.as_of + '.'
      : 'No commissions yet: set a reward rule below.';
  }
  function amount(minor, currency) {
    return minor == null ? null : money_text(minor, currency);
  }

  function rules(list) {
    var body = $('rules');
    body.textContent = '';
    list.rules.forEach(function (r) {
      var row = document.createElement('tr');
      cell(row, r.public_key || 'every program');
      cell(row, r.partner_key || 'default');
      cell(row, r.on);
      cell(row, r.kind === 'percent' ? (r.basis_points / 100) + ' %' : r.kind === 'flat' ? money_text(r.amount, r.currency) : 'nothing');
      cell(row, r.on === 'sale' ? (r.months === 'lifetime' ? 'lifetime' : r.months + ' months') : null);
      cell(row, r.holding_days, true);
      cell(row, r.set_at);
      body.appendChild(row);
    });
    $('rules-table').hidden = list.rules.length === 0;
  }
  function ruleBody() {
    var kind = $('rule-kind').value;
    var body = { on: $('rule-on').value, kind: kind, holding_days: Number($('rule-holding').value || 0) };
    if ($('rule-program').value.trim()) body.public_key = $('rule-program').value.trim();
    if ($('rule-partner').value.trim()) body.partner_key = $('rule-partner').value.trim();
    if (kind === 'percent') body.basis_points = Number($('rule-value').value);
    if (kind === 'flat') { body.amount = Number($('rule-value').value); body.currency = $('rule-currency').value.trim(); }
    if (body.on === 'sale' && $('rule-months').value) body.months = Number($('rule-months').value);
    return body;
  }

  function loadMoney() {
    var current = newest('money');
    return Promise.all([get('/v1/payouts/due'), get('/v1/rewards')]).then(current(function (answers) {
      money(answers[0].body);
      rules(answers[1].body);
    })).catch(current(function (error) { $('money-status').textContent = 'Could not load: ' + error.message; }));
  }

  function load() {
    if (!token) return;
    var status = $('status');
    status.textContent = 'Loading…';
    var program = $('program').value.trim();
    var list = '/v1/signups?limit=' + PAGE + '&count=1&' + range() + (before ? '&before=' + before : '');
    var current = newest('list');
    Promise.all([get('/v1/partners?' + range() + '&public_key=' + encodeURIComponent(program)), get(list)])
      .then(current(function (answers) {
        var report = answers[0].body;
        partners(report);
        chart(report.days);
        var next = answers[1].headers.get('X-Next-Before');
        records(answers[1].body, answers[1].headers.get('X-Total-Count'));
        $('next').disabled = !next;
        $('next').dataset.before = next || '';
        $('previous').disabled = cursors.length === 0;
        var unmatched = (report.unmatched || []).map(function (u) { return u.transactions + ' (' + money_text(u.amount, u.currency) + ')'; });
        status.textContent = report.partners.length + ' partners' + (unmatched.length ? '; payments matching no customer: ' + unmatched.join(', ') : '') + '.';
      }))
      .catch(current(function (error) { status.textContent = 'Could not load: ' + error.message; }));
  }

  $('auth').addEventListener('submit', function (e) {
    e.preventDefault();
    token = $('token').value;
    cursors = [];
    before = null;
    load();
    loadMoney();
    clearInterval(timer);
    timer = setInterval(load, 10000);
  });
  $('next').addEventListener('click', function () {
    cursors.push(before);
    before = $('next').dataset.before;
    load();
  });
  $('previous').addEventListener('click', function () {
    before = cursors.pop() || null;
    load();
  });

  $('builder').addEventListener('submit', function (e) {
    e.preventDefault();
    var link = $('link');
    link.href = location.origin + '/r/' + encodeURIComponent($('link-partner').value.trim()) + '?to=' + encodeURIComponent($('link-to').value.trim() || '/');
    link.textContent = link.href;
    link.hidden = false;
  });

  $('payout').addEventListener('submit', function (e) {
    e.preventDefault();
    var status = $('payout-status');
    send('POST', '/v1/payouts', {
      partner_key: $('payout-partner').value,
      currency: $('payout-currency').value,
      amount: Number($('payout-amount').value),
      reference: $('payout-reference').value.trim(),
    }).then(function (payout) {
      status.textContent = 'Recorded: ' + money_text(payout.amount, payout.currency) + ' to ' + payout.partner_key +
        ' (' + payout.reference + '), settling ' + payout.entries + ' entries.';
      $('payout').hidden = true;
      loadMoney();
    }).catch(function (error) { status.textContent = 'Not recorded: ' + error.message; });
  });
  $('rule').addEventListener('submit', function (e) {
    e.preventDefault();
    send('PUT', '/v1/rewards', ruleBody()).then(function (rule) {
      $('rule-status').textContent = 'Rule ' + rule.id + ' set: it applies to what is recorded from now on.';
      loadMoney();
    }).catch(function (error) { $('rule-status').textContent = 'Not saved: ' + error.message; });
  });
  $('rule-preview').addEventListener('click', function () {
    var body = ruleBody();
    if ($('since').value) body.since = $('since').value;
    if ($('until').value) body.until = $('until').value;
    send('POST', '/v1/rewards/preview', body).then(function (preview) {
      var rows = $('preview');
      rows.textContent = '';
      preview.partners.forEach(function (p) {
        var row = document.createElement('tr');
        cell(row, p.partner_key + ' (' + p.currency + ')');
        cell(row, p.events, true);
        [p.earned, p.reversed, p.net, p.current_net].forEach(function (v) { cell(row, money_text(v, p.currency), true); });
        rows.appendChild(row);
      });
      $('preview-table').hidden = preview.partners.length === 0;
      $('rule-status').textContent = preview.partners.length
        ? 'Over ' + preview.since + ' to ' + preview.until + ', nothing changed.'
        : 'Nothing in ' + preview.since + ' to ' + preview.until + ' this rule would reward.';
    }).catch(function (error) { $('rule-status').textContent = 'No preview: ' + error.message; });
  });

  // The export is the collector's: every record in the range, streamed as CSV with formula-like
  // text kept as text (GET /v1/signups.csv).
  $('csv').addEventListener('click', function () {
    download('/v1/signups.csv?' + range(), 'reftrack-records.csv')
      .catch(function (error) { $('status').textContent = 'Could not export: ' + error.message; });
  });
})();
