// Why a region has its level, in plain words: the threshold its score crossed (or
// did not), each rule with what it counted and what it would do, and each incident
// weighing most with its category, place, date and severity. Built from the numbers
// of /api/regions/{kode}/risk (explanation, stats, model), in the page's language.

import { formatNumber, t } from "./i18n.js";
import { el } from "./national.js";
import { formatTime } from "./zones.js";

const LEVEL_WORD = { provinsi: "panel.level.provinsi", kabupaten_kota: "panel.level.kabupaten_kota", kecamatan: "panel.level.kecamatan" };

/** The sentence about the score and the thresholds of the region's level. */
function thresholdLine(risk) {
  const ex = risk.explanation;
  const th = risk.model?.thresholds;
  if (!th) return null;
  const values = { score: formatNumber(ex.score, 1), kuning: formatNumber(th.kuning, 1), merah: formatNumber(th.merah, 1), level: t(LEVEL_WORD[risk.level] || "panel.level.kabupaten_kota") };
  const key = ex.score_level === "merah" ? "explain.score.merah" : ex.score_level === "kuning" ? "explain.score.kuning" : "explain.score.hijau";
  return el("p", { "data-threshold": "" }, t(key, values));
}

/** A rule in plain words, from the counts and the model's parameters. */
function ruleText(rule, risk) {
  const stats = risk.explanation.stats;
  const rules = risk.model?.rules || {};
  const to = t(`level.short.${rule.raises_to}`);
  switch (rule.rule) {
    case "recent_severe": {
      const r = rules.recent_severe || { min_severity: 4, days: 7 };
      return t(rule.triggered ? "explain.recent.yes" : "explain.recent.no", { n: stats.recent_severe, severity: r.min_severity, days: r.days, to });
    }
    case "surge": {
      const s = rules.surge || { factor: 2, min_weekly_baseline: 1 };
      const baseline = stats.previous_four_weeks / 4;
      const values = { week: stats.this_week, baseline: formatNumber(baseline, 2), factor: formatNumber(s.factor, 1), to };
      if (baseline < s.min_weekly_baseline) return t("explain.surge.small", values);
      return t(rule.triggered ? "explain.surge.yes" : "explain.surge.no", values);
    }
    case "province_regencies": {
      const [, merah = "0", total = "0"] = /(\d+) of (\d+)/.exec(rule.detail) || [];
      const p = rules.province || { merah_regencies_for_kuning: 1, merah_share_for_merah: 0.5 };
      return t(rule.triggered ? "explain.province.yes" : "explain.province.no", {
        merah, total, kuning: p.merah_regencies_for_kuning, share: formatNumber(p.merah_share_for_merah * 100, 0), to,
      });
    }
    default:
      return `${rule.rule}: ${rule.detail}`;
  }
}

/** Why the final level: the score, or which rule raised it. */
function verdict(risk) {
  const ex = risk.explanation;
  const raisedBy = ex.rules.filter((r) => r.triggered && r.raises_to === ex.level && ex.level !== ex.score_level);
  if (raisedBy.length === 0) return t("explain.verdict.score", { level: t(`level.short.${ex.level}`) });
  return t("explain.verdict.rule", { level: t(`level.short.${ex.level}`), rules: raisedBy.map((r) => t(`rule.${r.rule}`)).join(", ") });
}

/** The explanation's elements for the region panel. */
export function explanation(risk) {
  const ex = risk.explanation;
  const parts = [
    el("h3", {}, t("panel.explanation")),
    thresholdLine(risk),
    el("p", { class: "verdict", "data-verdict": "" }, verdict(risk)),
    el("ul", { class: "rules" },
      ex.rules.map((rule) => el("li", { class: rule.triggered ? "triggered" : "", "data-rule": rule.rule },
        el("strong", {}, t(`rule.${rule.rule}`)), `: ${ruleText(rule, risk)}`))),
  ];
  // Incident by incident only for a user who may read the whole region; anyone else
  // gets the parts summed per category.
  if (ex.contributions?.length) {
    parts.push(el("h4", {}, t("panel.contributions")),
      el("ol", { class: "contributions" },
        ex.contributions.slice(0, 5).map((c) => el("li", { "data-contribution": c.id },
          t("explain.incident", {
            id: c.id,
            category: c.category ? t(`category.${c.category}`) : "",
            place: c.nama ? `${c.nama} (${c.kode})` : risk.nama,
            when: formatTime(c.occurred_at * 1000, c.kode || risk.kode, false),
            severity: c.severity ?? "?",
            part: formatNumber(c.contribution, 1),
          })))));
  } else if (ex.contributions_by_category?.length) {
    parts.push(el("h4", {}, t("panel.contributions.category")),
      el("ul", { class: "contributions" },
        ex.contributions_by_category.map((c) =>
          el("li", {}, `${t(`category.${c.category}`)}: ${formatNumber(c.count)} · +${formatNumber(c.contribution, 1)}`))));
  }
  return parts;
}
