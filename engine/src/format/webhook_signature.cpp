#include "format/webhook_signature.hpp"

#include <pgexport/shared/hmac.hpp>

#include <array>

namespace pgexport::engine::detail {

namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int value_of(char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

} // namespace

std::string base64_encode(std::span<const unsigned char> bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned v = bytes[i] << 16 | bytes[i + 1] << 8 | bytes[i + 2];
        out += alphabet[v >> 18 & 63];
        out += alphabet[v >> 12 & 63];
        out += alphabet[v >> 6 & 63];
        out += alphabet[v & 63];
    }
    if (const std::size_t left = bytes.size() - i; left > 0) {
        const unsigned v = bytes[i] << 16 | (left == 2 ? bytes[i + 1] << 8 : 0);
        out += alphabet[v >> 18 & 63];
        out += alphabet[v >> 12 & 63];
        out += left == 2 ? alphabet[v >> 6 & 63] : '=';
        out += '=';
    }
    return out;
}

std::string base64_encode(std::string_view bytes) {
    return base64_encode(std::span(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()));
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0)
        return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        const std::size_t pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
        if (pad == 1 && text[i + 2] == '=')
            return std::nullopt; // "x=y=" is not padding
        unsigned v = 0;
        for (std::size_t k = 0; k < 4 - pad; ++k) {
            const int d = value_of(text[i + k]);
            if (d < 0)
                return std::nullopt;
            v = v << 6 | static_cast<unsigned>(d);
        }
        v <<= 6 * pad;
        out += static_cast<char>(v >> 16 & 0xff);
        if (pad < 2)
            out += static_cast<char>(v >> 8 & 0xff);
        if (pad < 1)
            out += static_cast<char>(v & 0xff);
        // Canonical only: the bits that padding drops must be zero.
        if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))
            return std::nullopt;
    }
    return out;
}

std::string make_webhook_secret(std::span<const unsigned char> key) {
    return std::string(webhook_secret_prefix) + base64_encode(key);
}

std::optional<std::string> webhook_key_of(std::string_view secret) {
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!secret.empty() && blank(secret.front()))
        secret.remove_prefix(1);
    while (!secret.empty() && blank(secret.back()))
        secret.remove_suffix(1);
    if (!secret.starts_with(webhook_secret_prefix))
        return std::nullopt;
    auto key = base64_decode(secret.substr(webhook_secret_prefix.size()));
    if (!key || key->size() < min_webhook_key_bytes || key->size() > max_webhook_key_bytes)
        return std::nullopt;
    return key;
}

std::string webhook_signature(std::string_view key, std::string_view id, std::int64_t timestamp,
                              std::string_view body) {
    std::string content;
    content.reserve(id.size() + body.size() + 24);
    content.append(id).append(".").append(std::to_string(timestamp)).append(".").append(body);
    const sha256_digest digest = hmac_sha256(key, content);
    return "v1," + base64_encode(std::span<const unsigned char>(digest));
}

} // namespace pgexport::engine::detail
