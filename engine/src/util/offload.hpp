#pragma once
// Runs a blocking function on a thread pool and resumes the awaiting coroutine on its own executor with
// the function's result, or its exception.
//
// Written with async_initiate and plain handlers rather than a co_spawned coroutine lambda: GCC 12
// miscompiles coroutine lambdas with init-captures (their strings end up relocated bitwise).

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <type_traits>

namespace pgexport::engine::detail {

template <class F, class R = std::invoke_result_t<F&>>
boost::asio::awaitable<R> async_offload(boost::asio::thread_pool& pool, F f) {
    namespace asio = boost::asio;
    if constexpr (std::is_void_v<R>) {
        auto initiation = [&pool, &f](auto handler) {
            asio::post(pool, [&f, handler = std::move(handler)]() mutable {
                std::exception_ptr error;
                try {
                    f();
                } catch (...) {
                    error = std::current_exception();
                }
                auto ex = asio::get_associated_executor(handler);
                asio::dispatch(ex, [handler = std::move(handler), error]() mutable { handler(error); });
            });
        };
        co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr)>(
            std::move(initiation), asio::use_awaitable);
    } else {
        auto initiation = [&pool, &f](auto handler) {
            asio::post(pool, [&f, handler = std::move(handler)]() mutable {
                std::exception_ptr error;
                R value{};
                try {
                    value = f();
                } catch (...) {
                    error = std::current_exception();
                }
                auto ex = asio::get_associated_executor(handler);
                asio::dispatch(ex, [handler = std::move(handler), error, value = std::move(value)]() mutable {
                    handler(error, std::move(value));
                });
            });
        };
        co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr, R)>(
            std::move(initiation), asio::use_awaitable);
    }
}

} // namespace pgexport::engine::detail
