"""Tickets a support lead reads at a glance, and what triage must make of them.

Each row was once triaged wrong; a row that fails here is a regression.
Subject and body are written ``subject||body``.
"""

# ruff: noqa: E501  (rows are tickets as customers wrote them, kept on one line)
from __future__ import annotations

import pytest

from rules.frustration import score_frustration
from rules.severity import classify_severity

NOT_P1 = [
    "||We don't want performance to be compromised by the new plugin",
    "||Pulsa saya terpotong tanpa izin",
    "||The errors are all gone now, thanks!",
    "||Errornya hilang setelah restart, terima kasih",
    "||Notifikasi email hilang setelah update, mohon dicek",
    "||Icon export hilang dari menu setelah update",
    "||Please send us the root cause analysis for the outage on Monday",
    "||We are planning for an outage window next Saturday",
    "||Will the migration on Saturday cause any outage?",
    "||How do I export?\nThe contents of this email are confidential. Unauthorized access, copying or distribution is strictly prohibited.",
    "||How do I export?\nPERHATIAN: Informasi dalam email ini bersifat rahasia. Akses tanpa izin dilarang.",
    "||How do I export?\nThis message has been scanned for malware by Mimecast",
    "||How do I export? Do not click links, it may be phishing.",
    "||How do I export?\nPT Maju | Unauthorized access to this email is prohibited",
    "Typo on the outage notification page||",
    "||Please send the post-mortem report of last month's outage for our records",
    "||We had a planned outage last weekend; please confirm the maintenance window for next month",
    "Our sales went down after the price change||",
    "||The dropdown menu goes down behind the footer when I scroll",
    "||The compiler emits an unreachable code warning",
    "||Mohon info jadwal maintenance, apakah server mati pada hari Minggu?",
    "||Fitur export tidak bisa diakses oleh user role viewer, mohon dicek",
    "Font looks garbled in PDF export footer||",
    "||My saved filter settings get overwritten when I log out, a bit annoying",
    "||I wiped my laptop and reinstalled, how do I reconnect the desktop app?",
    "||Please add phishing awareness training module to the LMS",
    "||Does your product protect against ransomware attacks?",
    "||Feature request: add a data breach notification template to the admin panel",
    "||Tagihan bulan ini berbeda, apakah ini penipuan atau salah input?",
    "Invoice copy||Please send a copy of invoice 42.\n\nCONFIDENTIAL: this message is for the addressee only. Unauthorized access, use or disclosure is prohibited.",
    "Permanently delete my old account||Please permanently delete my old test account",
    "||Nothing works better than your support team, thank you!",
    "||Our trainee clicked a phishing simulation link, nothing happened, just FYI",
    "||Can you share your SOC2 report? Our security team wants to know how you handle a data breach",
]

P1 = [
    "||Our admin account was compromised last night",
    "||Ada yang mengakses tanpa izin ke data pelanggan kami",
    "||Notice: our whole site is down since 8am, nobody can log in",
    "||Email ini ditujukan untuk melaporkan bahwa server kami down sejak pagi",
    "||This message is intended to let you know our server is down since 8am",
    "||Confidential: we suspect unauthorized access to our admin panel",
    "||Disclaimer: I am not technical, but all our data is gone after your update",
    "||Hi team,\n--\nOur production server is down since 8am. Nobody can work.",
    "||We are seeing data loss reports from all our branches",
    "||After the upgrade we lost all reports",
    "||We lost all templates after the update",
    "||We have a total outage report from all 30 stores",
    "||Our checkout is down page after page returns 502",
    "||Our portal was hacked page defaced with a ransom note",
    "||We received a phishing page impersonating your login and several staff entered passwords",
    "||The whole platform has been unreachable for an hour",
    "||Our server goes down every hour, customers cannot check out",
    "||Server kalian down dari tadi pagi",
    "URGENT: PAYMENT GATEWAY DOWN||",
    "Payment gateway down||All card payments are failing for all stores",
    "||since last night server down",
    "||The training portal is down",
    "||The policy page is down",
    "||DDoS protection is down",
    "||For the past hour the site is down",
    "Website has gone down||Our website has gone down for all customers since 9am.",
    "We're down||We're down. Customers cannot place orders.",
    "||The site is currently down.",
    "||The site is still down.",
    "||The server's down.",
    "||The site seems to be down for everyone since this morning.",
    "||Our entire production line is stopped because your API is returning 500",
    "||Checkout is broken for all customers, nobody can pay.",
    "||Payments are failing for every customer since the last deploy.",
    "||Semua user tidak bisa login sejak jam 9",
    "Aplikasi kami down||Aplikasi kami down sejak pagi, semua pelanggan tidak bisa transaksi.",
    "||Sistem kami mati sejak tadi pagi",
    "||Layanan kalian down ya?",
    "||Server sedang gangguan, tidak ada yang bisa transaksi",
    "||All our invoices disappeared from the dashboard overnight.",
    "||Our database was deleted by your migration script, all customer records are gone.",
    "||Transaksi pelanggan hilang setelah update",
    "||Someone logged into our admin account from an unknown IP and changed payouts.",
    "||Our API keys were stolen and used to send spam.",
    "||Our customer list leaked online, it is on a public forum.",
    "||Akun kami dihack, password diganti orang lain.",
    "||Not sure why prod is down but please look now",
    "||No idea why server down again",
    "||sejak pagi tidak bisa login sistem down",
    "||tidak tahu kenapa data kami hilang",
    "||Kami tanpa akses karena server mati",
]

CALM = [
    "Still waiting for the invoice copy, no rush, thanks!",
    "I have asked several times about the roadmap, just curious, no rush :)",
    "Semua lancar, tidak ada kendala!!!",
    "Aman, tidak ada error lagi sejak kemarin!!!",
    "SEMUA AMAN, TIDAK ADA ERROR LAGI SEJAK KEMARIN",
    "It is not broken anymore, great work!!!",
    "Pengiriman terlambat karena cuaca buruk, tidak apa-apa kami tunggu",
    "Worst case we can move the meeting to Friday, no problem.",
    "Still not sure which plan fits us better, can you advise?",
]

FRUSTRATED = [
    "I am extremely upset, this is the third week in a row our reports are wrong",
    "Hello? Any update? It's been two days and still nothing, we're losing sales.",
    "Your team keeps ignoring our emails and we are losing customers every hour.",
    "Sudah seminggu saya menunggu dan tidak ada kabar sama sekali",
    "Sudah muak dengan layanan kalian, makin lama makin mahal",
    "Ini sudah ketiga kalinya saya komplain dan belum ada solusi sama sekali",
    "Your product keeps failing us and your team does not care. We are evaluating other vendors.",
    "We are losing money every hour this is down. Get someone on this NOW.",
    "Dikenakan ongkir 2x, kurang ajar!",
]


@pytest.mark.parametrize("ticket", NOT_P1)
def test_a_mention_or_a_topic_is_not_p1(ticket):
    subject, body = ticket.split("||")

    assert classify_severity(subject, body).level != "P1"


@pytest.mark.parametrize("ticket", P1)
def test_a_plainly_worded_incident_is_p1(ticket):
    subject, body = ticket.split("||")

    assert classify_severity(subject, body).level == "P1"


@pytest.mark.parametrize("message", CALM)
def test_a_calm_message_does_not_escalate(message):
    assert not score_frustration([message]).escalate


@pytest.mark.parametrize("message", FRUSTRATED)
def test_a_frustrated_message_escalates(message):
    assert score_frustration([message]).escalate
